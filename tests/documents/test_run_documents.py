"""``amalia run --file`` and piped input: the documents reach the model framed, are
listed in --json, are saved with the conversation, and every bad input is one line."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
from document_files import write_docx, write_pdf, zip_bomb

from amalia_local.conversations import ConversationStore

GREEDY = ("--temperature", "0", "--json")
LINE = "O prazo de reclamação é de quinze dias úteis a contar da notificação."


def saved(cli_env) -> ConversationStore:
    return ConversationStore.in_dir(Path(cli_env["AMALIA_HOME"]) / "data")


def run_json(amalia, *args: str, stdin: str | None = None) -> dict:
    result = amalia("run", *args, stdin=stdin)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_file_is_framed_listed_and_saved(amalia, tiny_model, cli_env, tmp_path):
    doc = write_docx(tmp_path / "regulamento.docx", [LINE], pages=1)
    plain = run_json(amalia, str(tiny_model), "Qual é o prazo?", "--ctx", "512", *GREEDY)
    result = run_json(
        amalia, str(tiny_model), "Qual é o prazo?", "--file", str(doc), "--ctx", "512", *GREEDY
    )
    (listed,) = result["documents"]
    assert listed["name"] == "regulamento.docx"
    assert (listed["kind"], listed["pages"]) == ("docx", 1)
    assert listed["sha256"] == hashlib.sha256(doc.read_bytes()).hexdigest()
    # The document's tokens and its frame are in the prompt, on top of the question's.
    grown = result["stats"]["prompt_tokens"] - plain["stats"]["prompt_tokens"]
    assert listed["tokens"] > 20 and grown > listed["tokens"]

    store = saved(cli_env)
    conversation = store.get(result["conversation_id"])
    store.close()
    question = conversation.messages[0]
    assert question.content == "Qual é o prazo?"  # the question as typed
    (attached,) = question.attachments
    assert (attached.name, attached.text, attached.sha256) == (
        "regulamento.docx",
        LINE,
        listed["sha256"],
    )


def test_continue_after_a_document_reads_only_the_new_question(amalia, tiny_model, tmp_path):
    doc = write_pdf(tmp_path / "despacho.pdf", [[LINE], [LINE]])
    first = run_json(
        amalia, str(tiny_model), "Resume.", "--file", str(doc), "--ctx", "512", *GREEDY
    )
    seen = first["stats"]["prompt_tokens"] + first["stats"]["generated_tokens"]
    assert first["documents"][0]["pages"] == 2
    second = run_json(
        amalia, str(tiny_model), "E o recurso?", "--continue", "--ctx", "512", *GREEDY
    )
    stats = second["stats"]
    assert stats["prompt_tokens_restored"] == seen
    assert stats["prompt_tokens_evaluated"] == stats["prompt_tokens"] - seen


def test_piped_input_is_added_to_the_question(amalia, tiny_model, cli_env):
    result = run_json(amalia, str(tiny_model), "Resume", "--ctx", "512", *GREEDY, stdin=LINE + "\n")
    (listed,) = result["documents"]
    assert (listed["name"], listed["kind"]) == ("stdin", "text")
    store = saved(cli_env)
    (attached,) = store.get(result["conversation_id"]).messages[0].attachments
    store.close()
    assert attached.text == LINE
    # Without a question, standard input still is the question itself, as before.
    alone = run_json(amalia, str(tiny_model), "--ctx", "512", *GREEDY, stdin="Olá")
    assert "documents" not in alone


def _bad_inputs(tmp: Path) -> list[tuple[list[str], str]]:
    scan = write_pdf(tmp / "scan.pdf", [["x"]], text=False)
    bomb = zip_bomb(tmp / "bomba.docx", "word/document.xml", 200 * 1024 * 1024)
    (tmp / "pasta").mkdir()
    (tmp / "foto.txt").write_bytes(bytes(range(256)) * 4)
    pdf = write_pdf(tmp / "d.pdf", [["a"]])
    docx = write_docx(tmp / "d.docx", ["a"])
    return [
        (["--file", str(tmp / "nada.pdf")], f"file not found: {tmp / 'nada.pdf'}"),
        (["--file", str(tmp / "pasta")], f"{tmp / 'pasta'} holds no document amalia reads (PDF, DOCX, ODT, HTML or text)"),  # noqa: E501
        (["--file", str(scan)], f"{scan} has no text to read (a scanned PDF?); run it through OCR first"),  # noqa: E501
        (["--file", str(bomb)], f"{bomb} is too large to read (the limit is 33.6 MB)"),
        (["--file", str(tmp / "foto.txt")], f"{tmp / 'foto.txt'} is not a document amalia reads (PDF, DOCX, ODT, HTML or text)"),  # noqa: E501
        (["--file", str(pdf), "--pages", "2-3"], "--pages 2-3: the document ends at page 1"),
        (["--file", str(pdf), "--pages", "x"], "--pages x: write the pages as 3-10 or 1,4,7-"),
        (["--file", str(docx), "--pages", "1"], "--pages chooses pages of a PDF, and no PDF was given with --file"),  # noqa: E501
    ]  # fmt: skip


def test_each_bad_document_is_one_line_and_nothing_is_saved(amalia, tiny_model, cli_env, tmp_path):
    for args, line in _bad_inputs(tmp_path):
        result = amalia("run", str(tiny_model), "Resume", *args, "--ctx", "512")
        assert (result.returncode, result.stdout) == (1, ""), args
        assert result.stderr.splitlines() == [f"amalia: {line}"], args
    store = saved(cli_env)
    assert store.list() == []
    store.close()


def test_documents_that_do_not_fit_say_what_would(amalia, tiny_model, cli_env, tmp_path):
    pdf = write_pdf(tmp_path / "relatorio.pdf", [[LINE] for _ in range(6)])
    # --whole: without it, a document that does not fit is read in passages instead.
    result = amalia(
        "run", str(tiny_model), "Resume", "--file", str(pdf), "--ctx", "512", "--whole"
    )  # fmt: skip
    assert (result.returncode, result.stdout) == (1, "")
    (line,) = result.stderr.splitlines()
    # The tiny model was trained on 512 tokens: no larger --ctx, but fewer pages fit.
    assert re.fullmatch(
        r"amalia: the documents and the question need (\d+) tokens plus 128 for the answer, "
        r"more than the context of 512 tokens; the model reads at most 512 tokens "
        r"or --pages 1-(\d) of relatorio.pdf would fit",
        line,
    ), line
    needed, pages = map(int, re.fullmatch(r".*need (\d+) .*--pages 1-(\d) .*", line).groups())
    assert needed > 512 - 128 and 1 <= pages < 6
    fewer = amalia(
        "run", str(tiny_model), "Resume", "--file", str(pdf), "--pages", f"1-{pages}", "--ctx",
        "512",
    )  # fmt: skip
    assert fewer.returncode == 0, fewer.stderr
    store = saved(cli_env)
    assert len(store.list()) == 1  # the refused run was counted, not evaluated or saved
    store.close()


@pytest.mark.smollm
def test_smollm_answers_from_a_file_and_from_stdin(amalia, smollm, tmp_path):
    notice = "The meeting is on Tuesday at 10 in room 4."
    doc = write_docx(tmp_path / "aviso.docx", [notice])
    args = ("--system", "You are a helpful AI assistant.", "--max-tokens", "24", "--ctx", "2048")
    question = "When is the meeting?"
    from_file = run_json(amalia, str(smollm), question, "--file", str(doc), *args, *GREEDY)
    piped = run_json(amalia, str(smollm), question, *args, *GREEDY, stdin=notice)
    assert from_file["text"].strip() and piped["text"].strip()
    own = from_file["documents"][0]["tokens"]
    assert own == piped["documents"][0]["tokens"] > 10
    # Same text under another name ("stdin"): the prompts differ only in the name.
    assert abs(from_file["stats"]["prompt_tokens"] - piped["stats"]["prompt_tokens"]) < 5
    assert from_file["stats"]["prompt_tokens"] > own


@pytest.mark.smollm
def test_smollm_says_which_context_would_fit(amalia, smollm, tmp_path):
    (tmp_path / "longo.txt").write_text(LINE * 60, encoding="utf-8")
    result = amalia("run", str(smollm), "Resume", "--file", str(tmp_path / "longo.txt"),
                    "--ctx", "512", "--whole")  # fmt: skip
    assert result.returncode == 1
    # SmolLM2 was trained on 8,192 tokens and is small: a larger context fits in RAM.
    assert re.fullmatch(
        r"amalia: the documents and the question need [\d,]+ tokens plus 128 for the answer, "
        r"more than the context of 512 tokens; --ctx \d+ would fit",
        result.stderr.strip(),
    ), result.stderr
