"""Search over passages: BM25 in SQLite FTS5, accents folded, Portuguese stems; the
index is built once per document under the cache folder and rebuilt for a new file."""

from __future__ import annotations

from pathlib import Path

import pytest
from document_files import write_pdf
from legal_documents import pages_of, regulation

from amalia_local.documents import read_document
from amalia_local.passages.index import PassageIndex, index_path
from amalia_local.passages.words import stems


@pytest.fixture(scope="module")
def regulation_pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("reg")
    return write_pdf(folder / "regulamento.pdf", pages_of(regulation(200)))


def best(index: PassageIndex, question: str) -> str:
    hits = index.search(question, 3)
    assert hits, question
    return hits[0].passage.section


@pytest.mark.parametrize(
    ("question", "article"),
    [
        ("prazos de reclamação", "Artigo 50.º"),  # plural asked, singular written
        ("licenca de ocupacao da via publica", "Artigo 25.º"),  # no accents
        ("até quando me posso candidatar?", "Artigo 75.º"),  # verb asked, noun written
        ("quanto custa uma sepultura perpétua", "Artigo 150.º"),
        ("a que horas abre o mercado", "Artigo 100.º"),
        ("preciso de licença para uma obra no interior?", "Artigo 125.º"),
    ],
)
def test_questions_find_their_article(
    regulation_pdf: Path, tmp_path: Path, question: str, article: str
) -> None:
    with PassageIndex.open(read_document(regulation_pdf), tmp_path) as index:
        assert best(index, question) == article


def test_stems_fold_accents_and_inflections() -> None:
    assert stems("prazos") == stems("prazo")
    assert stems("licenca") == stems("licença") == stems("Licenças")
    assert stems("urbanizacao") == stems("urbanização")
    # Snowball leaves these apart: the search matches longer stems as prefixes instead.
    assert stems("candidatar") != stems("candidaturas")


def test_a_question_about_something_else_matches_nothing(regulation_pdf, tmp_path) -> None:
    with PassageIndex.open(read_document(regulation_pdf), tmp_path) as index:
        assert index.search("receita de bacalhau com natas", 5) == []
        assert index.search("o que é que a", 5) == []  # only stopwords
        assert index.search('"*) OR NEAR(', 5) == []  # FTS5 syntax is not passed through


def test_index_is_built_once_and_rebuilt_for_a_changed_file(regulation_pdf, tmp_path) -> None:
    cache = tmp_path / "cache"
    calls: list[int] = []
    document = read_document(regulation_pdf)
    with PassageIndex.open(document, cache, progress=lambda n: calls.append(n)) as index:
        assert len(index) >= 200
    path = index_path(cache, document)
    built = path.stat()
    with PassageIndex.open(read_document(regulation_pdf), cache, lambda n: calls.append(n)):
        pass
    assert len(calls) == 1  # the second time nothing was split or stemmed...
    assert (path.stat().st_ino, path.stat().st_mtime_ns) == (built.st_ino, built.st_mtime_ns)

    changed = write_pdf(tmp_path / "regulamento.pdf", pages_of(regulation(30)))
    other = read_document(changed)
    with PassageIndex.open(other, cache, lambda n: calls.append(n)) as index:
        assert len(index) < 60
    assert len(calls) == 2 and index_path(cache, other) != path
    assert not list((cache / "passages").glob("*.tmp"))  # built aside, renamed in


def test_a_damaged_index_is_rebuilt(regulation_pdf, tmp_path) -> None:
    document = read_document(regulation_pdf)
    path = index_path(tmp_path, document)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a database")
    with PassageIndex.open(document, tmp_path) as index:
        assert best(index, "prazos de reclamação") == "Artigo 50.º"
