"""Passages follow the document: articles start them, pages are known, none too large."""

from __future__ import annotations

from pathlib import Path

from document_files import write_docx, write_pdf
from legal_documents import article_page, pages_of, regulation

from amalia_local.documents import read_document
from amalia_local.passages.split import MAX_TOKENS, estimate_tokens, split_document


def test_pdf_passages_start_at_articles_and_know_their_pages(tmp_path: Path) -> None:
    pages = pages_of(regulation(120))
    document = read_document(write_pdf(tmp_path / "regulamento.pdf", pages))
    passages = split_document(document)
    assert len(passages) >= 120  # every article starts its own passage
    for number in (1, 25, 50, 119):
        (found,) = [p for p in passages if p.text.startswith(f"Artigo {number}.º")] or [
            p for p in passages if f"\nArtigo {number}.º\n" in p.text
        ]
        page = article_page(pages, number)
        assert found.first_page <= page <= found.last_page
        assert found.section == f"Artigo {number}.º"
        assert found.file == "regulamento.pdf"
    # No passage is cut out of nothing or left without a page.
    assert all(p.first_page is not None and p.text.strip() for p in passages)
    # The passages hold the whole document, in order.
    joined = "".join("".join(p.text.split()) for p in passages)
    assert joined == "".join(document.text.split())


def test_page_numbers_follow_the_pages_chosen(tmp_path: Path) -> None:
    pages = [[f"Página {n}: texto próprio da página {n}."] for n in range(1, 11)]
    document = read_document(write_pdf(tmp_path / "atas.pdf", pages), pages="4-6")
    passages = split_document(document, target=5)
    assert {p.first_page for p in passages} == {4, 5, 6}
    for p in passages:
        assert " ".join(p.text.split()) in pages[p.first_page - 1][0]


def test_a_run_on_text_is_cut_into_passages_under_the_limit(tmp_path: Path) -> None:
    prose = " ".join(f"Frase número {n} sem parágrafos nem páginas." for n in range(3000))
    path = tmp_path / "longo.txt"
    path.write_text(prose + "\n" + "x" * 5000, encoding="utf-8")
    passages = split_document(read_document(path))
    assert len(passages) > 50
    assert all(estimate_tokens(p.text) <= MAX_TOKENS for p in passages)
    assert all(p.first_page is None for p in passages)


def test_docx_headings_stay_with_the_article_that_follows(tmp_path: Path) -> None:
    doc = write_docx(
        tmp_path / "r.docx",
        ["CAPÍTULO II", "Taxas", "Artigo 7.º", "Taxa de esplanada", "A taxa é de 42 euros."],
    )
    (passage,) = split_document(read_document(doc))
    assert passage.section == "Artigo 7.º"
    assert passage.text.startswith("CAPÍTULO II")
