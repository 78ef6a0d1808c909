"""``amalia run --file`` with a document longer than the context: the best passages are
read instead, said in one line, cited after the answer, listed in --json; ``--whole``
keeps the old refusal; a question nothing matches is refused in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from document_files import write_pdf
from legal_documents import article_page, pages_of, regulation

from amalia_local.conversations import ConversationStore

GREEDY = ("--temperature", "0", "--max-tokens", "8")


@pytest.fixture(scope="module")
def long_pdf(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[list[str]]]:
    pages = pages_of(regulation(200))
    return write_pdf(tmp_path_factory.mktemp("long") / "regulamento.pdf", pages), pages


def test_a_document_too_long_is_read_in_passages(amalia, smollm, long_pdf, cli_env) -> None:
    pdf, pages = long_pdf
    question = "Qual é o prazo para reclamar do indeferimento?"
    args = ("run", str(smollm), question, "--file", str(pdf), "--ctx", "2048", *GREEDY)
    result = amalia(*args, "--json", env={"AMALIA_LANG": "en"})
    assert result.returncode == 0, result.stderr
    summary = [line for line in result.stderr.splitlines() if line.startswith("excerpts:")]
    assert len(summary) == 1, result.stderr
    payload = json.loads(result.stdout)
    excerpts = payload["excerpts"]
    assert summary[0] == (
        f"excerpts: {excerpts['given']} of {excerpts['total']}, {excerpts['tokens']:,} tokens"
    )
    assert excerpts["total"] >= 200 and 1 <= excerpts["given"] < 10
    best = excerpts["passages"][0]
    assert best["file"] == "regulamento.pdf" and best["section"] == "Artigo 50.º"
    assert article_page(pages, 50) in best["pages"]
    assert sum(p["tokens"] for p in excerpts["passages"]) == excerpts["tokens"]
    # The prompt is the passages, not the document: it fits the context.
    assert payload["stats"]["prompt_tokens"] < 2048
    # The sources given are the ones saved with the question.
    store = ConversationStore.in_dir(Path(cli_env["AMALIA_HOME"]) / "data")
    attached = store.get(payload["conversation_id"]).messages[0].attachments
    store.close()
    assert [a.kind for a in attached] == ["excerpt"] * excerpts["given"]
    assert attached[0].name.startswith("regulamento.pdf, p")
    assert "Artigo 50.º" in attached[0].name


def test_sources_follow_the_answer_on_stderr_in_portuguese(amalia, smollm, long_pdf) -> None:
    pdf, _ = long_pdf
    result = amalia(
        "run", str(smollm), "licenca de esplanada", "--file", str(pdf),
        "--ctx", "2048", "--no-save", *GREEDY, env={"AMALIA_LANG": "pt"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    summary = [line for line in lines if line.startswith("excertos: ")]
    assert len(summary) == 1 and " de " in summary[0] and "," not in summary[0].split(",", 1)[1]
    sources = lines[lines.index("fontes:") + 1 :]
    assert sources and sources[0].startswith("  regulamento.pdf, p. ")
    assert "Artigo 25.º" in sources[0]


def test_whole_keeps_the_refusal_and_passages_can_be_asked_for(
    amalia, smollm, long_pdf, tmp_path
) -> None:
    pdf, _ = long_pdf
    base = ("run", str(smollm), "prazo de reclamação", "--ctx", "2048", *GREEDY)
    whole = amalia(*base, "--file", str(pdf), "--whole", env={"AMALIA_LANG": "en"})
    assert whole.returncode == 1
    (line,) = whole.stderr.strip().splitlines()
    assert "more than the context of 2,048 tokens" in line
    # A short document fits whole; --passages reads passages of it all the same.
    short = write_pdf(
        tmp_path / "curto.pdf",
        [["Artigo 1.º", "O prazo de reclamação é de dez dias."], ["Artigo 2.º", "Taxas."]],
    )
    plain = amalia(*base, "--file", str(short), "--json")
    assert plain.returncode == 0 and "excerpts" not in json.loads(plain.stdout)
    asked = amalia(*base, "--file", str(short), "--json", "--passages")
    assert asked.returncode == 0, asked.stderr
    assert json.loads(asked.stdout)["excerpts"]["given"] >= 1
    both = amalia(*base, "--file", str(short), "--whole", "--passages")
    assert both.returncode == 2 and "Traceback" not in both.stderr


def test_a_question_nothing_matches_is_refused_in_one_line(amalia, smollm, long_pdf) -> None:
    pdf, _ = long_pdf
    result = amalia(
        "run", str(smollm), "receita de bacalhau com natas", "--file", str(pdf),
        "--ctx", "2048", *GREEDY, env={"AMALIA_LANG": "en"},
    )  # fmt: skip
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("amalia: no passage of the documents (") and "Traceback" not in line


def test_a_300_page_pdf_is_indexed_once_across_processes(amalia, smollm, cli_env, tmp_path):
    pages = pages_of(regulation(1300))
    assert len(pages) >= 290
    pdf = write_pdf(tmp_path / "pdm.pdf", pages)
    args = ("run", str(smollm), "taxa das esplanadas", "--file", str(pdf), "--ctx", "2048")
    first = amalia(*args, "--no-save", *GREEDY, env={"AMALIA_LANG": "en"})
    assert first.returncode == 0, first.stderr
    assert "indexing pdm.pdf" in first.stderr  # progress for a large document
    (index,) = (Path(cli_env["AMALIA_HOME"]) / "cache" / "passages").glob("*.sqlite")
    built = index.stat()
    second = amalia(*args, "--no-save", "--json", *GREEDY, env={"AMALIA_LANG": "en"})
    assert second.returncode == 0, second.stderr
    assert "indexing" not in second.stderr
    assert (index.stat().st_ino, index.stat().st_mtime_ns) == (built.st_ino, built.st_mtime_ns)
    excerpts = json.loads(second.stdout)["excerpts"]
    assert excerpts["total"] > 1000 and excerpts["tokens"] <= 1500
    assert excerpts["passages"][0]["section"] == "Artigo 25.º"


def test_run_continue_searches_the_conversations_documents_again(amalia, smollm, long_pdf):
    pdf, _ = long_pdf
    base = ("run", str(smollm), "--ctx", "2048", "--json", *GREEDY)
    first = amalia(*base[:2], "prazo de reclamação", "--file", str(pdf), *base[2:])
    assert first.returncode == 0, first.stderr
    # No --file: the conversation's document is searched again, from its cached index.
    again = amalia(*base[:2], "a que horas abre o mercado?", "--continue", *base[2:])
    assert again.returncode == 0, again.stderr
    excerpts = json.loads(again.stdout)["excerpts"]
    assert excerpts["passages"][0]["section"] == "Artigo 100.º"
    assert excerpts["given"] == sum(not p["in_context"] for p in excerpts["passages"])
    assert [line for line in again.stderr.splitlines() if line.startswith("excerpts: ")]
