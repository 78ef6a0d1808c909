"""Documents in the chat: attach (key + path prompt with completion, paste, palette),
see the blocks, ask and watch the reading progress, ask again reading only the new
tokens, reopen in a new app: same."""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from pathlib import Path

import pytest
from document_files import write_docx, write_pdf
from legal_documents import pages_of, regulation
from textual import events
from textual.widgets import Input
from tui_helpers import (
    SIZE,
    ask,
    click_conversation,
    screen_text,
    wait_answer,
    wait_ready,
    wait_until,
)

from amalia_local.config import Config
from amalia_local.i18n import Translator
from amalia_local.locations import Locations
from amalia_local.runtime import Runtime
from amalia_local.tui.app import AmaliaApp, LoadOverrides
from amalia_local.tui.widgets.attachments import AttachmentChip
from amalia_local.tui.widgets.messages import AnswerMessage, MessageList, SourcesNote, UserMessage
from amalia_local.tui.widgets.status import StatusBar

RULE = (
    "Article {n}. A complaint about a decision of the council must be made within "
    "fifteen working days of the notification, in writing, to the mayor's office. "
)


def _app(home: Path, model: Path, n_ctx: int) -> AmaliaApp:
    locations = Locations.resolve({"AMALIA_HOME": str(home)})
    runtime = Runtime(locations=locations, translator=Translator("en"))
    config = replace(
        Config.load(locations.config_dir),
        temperature=0.0,
        threads=1,  # on a loaded machine two threads can be far slower than one
        max_tokens=24,
        system_prompt="You are a helpful AI assistant.",
    )
    return AmaliaApp(runtime, config, str(model), LoadOverrides(n_ctx=n_ctx))


def _record_status(monkeypatch) -> list[str]:
    """Every line the status bar is given (the real bar still shows it)."""
    shown: list[str] = []
    real = StatusBar.show

    def show(self, parts: list[str]) -> None:
        shown.append(" · ".join(parts))
        real(self, parts)

    monkeypatch.setattr(StatusBar, "show", show)
    return shown


@pytest.mark.smollm
async def test_attach_ask_see_progress_ask_again_and_reopen(smollm, home, tmp_path, monkeypatch):
    doc = write_docx(tmp_path / "regulation.docx", [RULE.format(n=n) for n in range(40)], pages=4)
    statuses = _record_status(monkeypatch)
    app = _app(home, smollm, 2048)
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(app)
        chat = app.chat_screen()
        await pilot.press("ctrl+t")
        await wait_until(lambda: isinstance(app.screen.focused, Input))
        box = app.screen.query_one("#answer", Input)
        box.insert_text_at_cursor(str(tmp_path / "regu"))
        await wait_until(lambda: box._suggestion != "")
        await pilot.press("right")  # accepts the completion
        assert box.value == str(doc)
        await pilot.press("enter")
        await wait_until(lambda: len(chat.attachment_bar.attached) == 1)
        (attached,) = chat.attachment_bar.attached
        assert attached.tokens is not None and attached.tokens > 1000
        await pilot.pause()
        assert f"regulation.docx · 4 p. · {attached.tokens:,} tokens" in screen_text(app)

        await ask(pilot, "Within how many days must a complaint be made?")
        await wait_answer(app, timeout=300)
        first = chat._last_stats
        assert first is not None and first.prompt_tokens > attached.tokens
        assert first.prompt_tokens_evaluated > attached.tokens  # the document was read
        # "reading 1,234 of 3,456 tokens · 150.0 tokens/s · 0:02 left"
        reading = [s for s in statuses if re.search(r"reading [\d,]+ of [\d,]+ tokens · ", s)]
        assert reading and all(" tokens/s · " in s and " left" in s for s in reading), statuses
        assert chat.attachment_bar.attached == []  # sent with the question
        assert "📎 regulation.docx · 4 p." in screen_text(app)

        await ask(pilot, "To whom?")
        await wait_answer(app, timeout=120)
        second = chat._last_stats
        seen = first.prompt_tokens + first.generated_tokens
        assert second.prompt_tokens_evaluated == second.prompt_tokens - seen

    statuses.clear()
    app = _app(home, smollm, 2048)  # a new start: nothing in memory
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(app)
        await click_conversation(pilot, 0)
        assert "📎 regulation.docx · 4 p." in screen_text(app)
        conversation = app.store.get(app.chat_screen().conversation_id)
        (saved_doc,) = conversation.messages[0].attachments
        assert saved_doc.sha256 == hashlib.sha256(doc.read_bytes()).hexdigest()
        await ask(pilot, "And by which means?")
        await wait_answer(app, timeout=120)
        third = app.chat_screen()._last_stats
        before = second.prompt_tokens + second.generated_tokens
        assert third.prompt_tokens_restored == before
        assert third.prompt_tokens_evaluated == third.prompt_tokens - before


async def test_paste_a_path_then_remove_the_block(make_app, tiny_model, tmp_path):
    doc = write_docx(tmp_path / "ata.docx", ["Presentes: todos."])
    app = make_app(tiny_model)
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(app)
        chat = app.chat_screen()
        prompt = chat.query_one("#prompt")
        prompt.focus()
        # A file dragged onto the terminal arrives as a paste of its quoted path; the
        # terminal driver hands pastes to the app, which gives them to the focused widget.
        app.post_message(events.Paste(f"'{doc}'"))
        await wait_until(lambda: len(chat.attachment_bar.attached) == 1)
        assert prompt.text == ""  # attached, not pasted as text
        app.post_message(events.Paste("just some words"))
        await wait_until(lambda: prompt.text == "just some words")
        assert len(chat.attachment_bar.attached) == 1
        await pilot.pause()
        assert "ata.docx · " in screen_text(app)
        await pilot.click(AttachmentChip)
        await wait_until(lambda: chat.attachment_bar.attached == [])
        await pilot.pause()
        assert "ata.docx" not in screen_text(app)


async def test_bad_file_is_a_notice_and_attaches_nothing(make_app, tiny_model, tmp_path):
    (tmp_path / "foto.txt").write_bytes(bytes(range(256)) * 4)
    app = make_app(tiny_model)
    notices: list[str] = []
    real = app.notify
    app.notify = lambda message, **kw: (notices.append(message), real(message, **kw))[1]
    async with app.run_test(size=SIZE):
        await wait_ready(app)
        chat = app.chat_screen()
        chat.read_attachment(tmp_path / "foto.txt")
        line = (
            f"{tmp_path / 'foto.txt'} is not a document amalia reads (PDF, DOCX, ODT, HTML or text)"
        )
        await wait_until(lambda: line in notices)
        assert chat.attachment_bar.attached == []


async def test_palette_has_the_attach_command(make_app, tiny_model):
    app = make_app(tiny_model)
    async with app.run_test(size=SIZE):
        await wait_ready(app)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Attach file" in titles


@pytest.mark.smollm
async def test_a_long_document_is_read_in_passages_and_its_sources_shown(smollm, home, tmp_path):
    """Too long for the context: indexed while attaching, the question shows the
    excerpts line, the answer its sources; a follow-up finds others; all kept on reopen."""
    pdf = write_pdf(tmp_path / "regulamento.pdf", pages_of(regulation(200)))
    app = _app(home, smollm, 2048)
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(app)
        chat = app.chat_screen()
        chat.read_attachment(pdf)
        await wait_until(lambda: len(chat.attachment_bar.attached) == 1, timeout=120)
        assert list((home / "cache" / "passages").glob("*.sqlite"))  # indexed already

        await ask(pilot, "Qual é o prazo para reclamar do indeferimento?")
        await wait_answer(app, timeout=300)
        assert chat._last_stats.prompt_tokens < 2048
        question = chat.query(UserMessage).last()
        assert re.search(r"^excerpts: \d+ of \d{3}, [\d,]+ tokens$", str(question.content), re.M)
        (note,) = chat.query(SourcesNote)
        lines = str(note.content).splitlines()
        assert lines[0] == "sources:" and "(Artigo 50.º)" in lines[1]
        assert lines[1].startswith("  regulamento.pdf, p")
        # Under the answer, after it.
        children = list(chat.query_one(MessageList).children)
        assert children.index(note) == children.index(chat.query(AnswerMessage).last()) + 1

        await ask(pilot, "e a licenca de ocupacao da via publica com esplanadas?")
        await wait_answer(app, timeout=300)
        notes = list(chat.query(SourcesNote))
        assert len(notes) == 2 and "(Artigo 25.º)" in str(notes[1].content).splitlines()[1]
        shown = [str(n.content) for n in notes]

    app = _app(home, smollm, 2048)
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(app)
        await click_conversation(pilot, 0)
        chat = app.chat_screen()
        assert [str(n.content) for n in chat.query(SourcesNote)] == shown
        first = str(chat.query(UserMessage).first().content)
        assert re.search(r"^excerpts: \d+, [\d,]+ tokens$", first, re.M)
        assert "📎" not in first  # the passages are not listed as attached files


async def test_attach_a_folder_reports_each_file_left_out(make_app, tiny_model, tmp_path):
    folder = tmp_path / "pasta"
    (folder / "atas").mkdir(parents=True)
    write_docx(folder / "ata.docx", ["Presentes: todos."])
    (folder / "atas" / "notas.txt").write_text("Notas.", encoding="utf-8")
    (folder / "vazio.txt").write_bytes(b"")
    app = make_app(tiny_model)
    notices: list[str] = []
    real = app.notify
    app.notify = lambda message, **kw: (notices.append(message), real(message, **kw))[1]
    async with app.run_test(size=SIZE):
        await wait_ready(app)
        chat = app.chat_screen()
        chat.read_attachment(folder)
        await wait_until(lambda: len(chat.attachment_bar.attached) == 2)
        names = [a.document.name for a in chat.attachment_bar.attached]
        assert names == ["ata.docx", "atas/notas.txt"]
        await wait_until(lambda: f"{folder / 'vazio.txt'} has no text to read" in notices)


def _folder_with_an_unreadable_file(tmp_path: Path) -> Path:
    folder = tmp_path / "Documentos Câmara"
    (folder / "atas de 2024").mkdir(parents=True)
    write_docx(folder / "ata.docx", ["Presentes: todos."])
    (folder / "atas de 2024" / "notas.txt").write_text("Notas.", encoding="utf-8")
    (folder / "vazio.txt").write_bytes(b"")
    write_pdf(folder / "digitalizado.pdf", [["Scanned"]], text=False)
    return folder


@pytest.mark.parametrize("form", ["quoted", "url"])
async def test_a_folder_dragged_onto_the_terminal_attaches_its_documents(
    make_app, tiny_model, tmp_path, form
):
    """A drag pastes the folder's path: quoted (spaces, accents) or a file:// URL."""
    folder = _folder_with_an_unreadable_file(tmp_path)
    pasted = f"'{folder}' " if form == "quoted" else folder.as_uri() + "\r\n"
    app = make_app(tiny_model)
    notices: list[str] = []
    real = app.notify
    app.notify = lambda message, **kw: (notices.append(message), real(message, **kw))[1]
    async with app.run_test(size=SIZE):
        await wait_ready(app)
        chat = app.chat_screen()
        prompt = chat.query_one("#prompt")
        prompt.focus()
        app.post_message(events.Paste(pasted))
        await wait_until(lambda: len(chat.attachment_bar.attached) == 2)
        assert prompt.text == ""  # attached, not pasted as text
        names = [a.document.name for a in chat.attachment_bar.attached]
        assert names == ["ata.docx", "atas de 2024/notas.txt"]
        await wait_until(lambda: "folder Documentos Câmara: 2 of 4 documents read" in notices)
        left_out = [n for n in notices if str(folder) in n]
        assert len(left_out) == 2, notices  # one line per file left out
        assert f"{folder / 'vazio.txt'} has no text to read" in left_out
        assert all("\n" not in n and "digitalizado.pdf" in n for n in left_out if "vazio" not in n)


async def test_the_attach_dialog_takes_a_folder(make_app, tiny_model, tmp_path):
    folder = _folder_with_an_unreadable_file(tmp_path)
    app = make_app(tiny_model, lang="pt")
    notices: list[str] = []
    real = app.notify
    app.notify = lambda message, **kw: (notices.append(message), real(message, **kw))[1]
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(app)
        chat = app.chat_screen()
        await pilot.press("ctrl+t")
        await wait_until(lambda: isinstance(app.screen.focused, Input))
        assert "Ficheiro ou pasta a anexar" in screen_text(app)
        app.screen.query_one("#answer", Input).insert_text_at_cursor(f"'{folder}'")
        await pilot.press("enter")
        await wait_until(lambda: len(chat.attachment_bar.attached) == 2)
        await wait_until(lambda: "pasta Documentos Câmara: 2 de 4 documentos lidos" in notices)
