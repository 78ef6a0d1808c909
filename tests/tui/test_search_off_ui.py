"""Sending a question about documents read in passages: the search runs off the UI
thread, so keys are handled while it runs; sending again meanwhile is refused, Esc
drops the question (nothing saved), and a refusal is the same one-line notice.

The search is held by a gate around the real ``search_many`` (it waits, then searches
as always), so the test decides how long it lasts. The gate gives up after
``HOLD_S``: on a UI thread that ran the search itself, the key pressed "during" it is
handled only after it ended, which is what the first test catches.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest
from document_files import write_pdf
from legal_documents import pages_of, regulation
from tiny_gguf import TinySpec, write_tiny_gguf
from tui_helpers import SIZE, ask, wait_answer, wait_ready, wait_until

from amalia_local.conversations.store import ASSISTANT, USER
from amalia_local.passages.index import PassageIndex
from amalia_local.services import passages
from amalia_local.tui.widgets.prompt import PromptInput

HOLD_S = 20.0  # only a search on the UI thread (the old code) waits this long
N_CTX = 4096  # the tiny model's tokens are bytes: room for a few passages


class Gate:
    """Holds every search until released (or HOLD_S), and says when one ended."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.ended = threading.Event()

    def wrap(self, search):
        def held(*args, **kwargs):
            self.entered.set()
            self.release.wait(HOLD_S)
            try:
                return search(*args, **kwargs)
            finally:
                self.ended.set()

        return held


@pytest.fixture(scope="module")
def long_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The scripted tiny model with a context long enough for a few passages (its
    tokens are bytes)."""
    path = tmp_path_factory.mktemp("models") / "tiny-long.gguf"
    return write_tiny_gguf(path, TinySpec(context_length=N_CTX))


def _gate(monkeypatch) -> Gate:
    gate = Gate()
    monkeypatch.setattr(passages, "search_many", gate.wrap(passages.search_many))
    return gate


def _long_pdf(tmp_path: Path) -> Path:
    return write_pdf(tmp_path / "regulamento.pdf", pages_of(regulation(120)))


def _notices(app) -> list[str]:
    notices: list[str] = []
    real = app.notify
    app.notify = lambda message, **kw: (notices.append(message), real(message, **kw))[1]
    return notices


async def _attach(app, path: Path) -> None:
    chat = app.chat_screen()
    chat.read_attachment(path)
    await wait_until(lambda: len(chat.attachment_bar.attached) == 1, timeout=120)


async def test_keys_are_handled_while_the_passages_are_searched(
    make_app, long_model, tmp_path, monkeypatch
):
    gate = _gate(monkeypatch)
    app = make_app(long_model, n_ctx=N_CTX)
    notices = _notices(app)
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(app)
        chat = app.chat_screen()
        await _attach(app, _long_pdf(tmp_path))
        await ask(pilot, "Qual é o prazo para reclamar do indeferimento?")
        await wait_until(gate.entered.is_set)
        prompt = chat.query_one(PromptInput)
        assert prompt.text == ""
        await pilot.press("x")
        await wait_until(lambda: prompt.text == "x", timeout=HOLD_S * 2)
        assert not gate.ended.is_set(), "the key was handled only after the search"
        assert "searching the documents" in str(chat.query_one("#status").content)
        # Sending again while it searches: refused, the text stays in the box.
        await pilot.press("enter")
        await wait_until(lambda: any("Wait for the search" in n for n in notices))
        assert prompt.text == "x"
        # A file attached while it searches is for the next question: it stays.
        later = tmp_path / "later.txt"
        later.write_text("Ata da reunião de 3 de março.", encoding="utf-8")
        chat.read_attachment(later)
        await wait_until(lambda: len(chat.attachment_bar.attached) == 2)
        gate.release.set()
        await wait_answer(app, timeout=60)
        assert chat.conversation_id is not None, notices
        conversation = app.store.get(chat.conversation_id)
        assert [m.role for m in conversation.messages] == [USER, ASSISTANT]
        assert conversation.messages[0].sources  # read in passages
        assert prompt.text == "x"
        assert [a.document.name for a in chat.attachment_bar.attached] == ["later.txt"]


async def test_esc_while_searching_drops_the_question_and_saves_nothing(
    make_app, long_model, tmp_path, monkeypatch
):
    gate = _gate(monkeypatch)
    app = make_app(long_model, n_ctx=N_CTX)
    notices = _notices(app)
    question = "Qual é o prazo para reclamar do indeferimento?"
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(app)
        chat = app.chat_screen()
        await _attach(app, _long_pdf(tmp_path))
        await ask(pilot, question)
        await wait_until(gate.entered.is_set)
        await pilot.press("escape")
        prompt = chat.query_one(PromptInput)
        await wait_until(lambda: prompt.text == question, timeout=HOLD_S * 2)
        assert not gate.ended.is_set()
        assert "question not sent: it is back in the box" in notices
        gate.release.set()
        await wait_until(lambda: not chat.generating, timeout=30)
        await pilot.pause()
        assert chat.answer is None and chat.conversation_id is None
        assert app.store.list("") == []  # nothing saved
        assert len(chat.attachment_bar.attached) == 1  # still there, to send again
        # Sent again: searched and answered as usual.
        await pilot.press("enter")
        await wait_answer(app, timeout=60)
        conversation = app.store.get(chat.conversation_id)
        assert [m.role for m in conversation.messages] == [USER, ASSISTANT]


async def test_no_matching_passage_is_the_same_notice_and_nothing_is_saved(
    make_app, long_model, tmp_path
):
    app = make_app(long_model, n_ctx=N_CTX)
    notices = _notices(app)
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(app)
        chat = app.chat_screen()
        await _attach(app, _long_pdf(tmp_path))
        await ask(pilot, "xyzzy plugh")
        await wait_until(lambda: any(n.startswith("no passage of the documents") for n in notices))
        await wait_until(lambda: not chat.generating)
        assert chat.query_one(PromptInput).text == "xyzzy plugh"
        assert app.store.list("") == []
        assert len(chat.attachment_bar.attached) == 1


async def test_quitting_while_searching_saves_nothing(make_app, long_model, tmp_path, monkeypatch):
    gate = _gate(monkeypatch)
    app = make_app(long_model, n_ctx=N_CTX)
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(app)
        await _attach(app, _long_pdf(tmp_path))
        await ask(pilot, "Qual é o prazo para reclamar do indeferimento?")
        await wait_until(gate.entered.is_set)
        threading.Timer(0.5, gate.release.set).start()  # ends while quitting waits
        await app.action_quit()
    assert gate.ended.wait(HOLD_S * 2)
    app = make_app(long_model, n_ctx=N_CTX)
    async with app.run_test(size=SIZE):
        assert app.store.list("") == []


async def test_a_folder_indexed_when_asked_shows_how_far_and_esc_stops_it(
    make_app, long_model, tmp_path, monkeypatch
):
    """Short notes are not indexed while attaching (each fits alone); together they
    do not fit, so the question indexes them: the status counts them, and Esc stops
    the indexing at the next note instead of waiting for all of them."""
    folder = tmp_path / "Notas da Câmara"
    folder.mkdir()
    for n in range(40):
        lines = regulation(25 if n % 10 == 0 else 24, seed=n)[-12:]
        (folder / f"nota-{n:02}.txt").write_text("\n".join(lines), encoding="utf-8")
    opened: list[str] = []
    gate = Gate()
    real_open = PassageIndex.open.__func__

    def open_index(cls, document, cache_dir, progress=None):
        opened.append(document.name)
        if len(opened) == 5:
            gate.entered.set()
            gate.release.wait(HOLD_S)
        return real_open(cls, document, cache_dir, progress)

    monkeypatch.setattr(PassageIndex, "open", classmethod(open_index))
    app = make_app(long_model, n_ctx=N_CTX, lang="pt")
    notices = _notices(app)
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(app)
        chat = app.chat_screen()
        chat.read_attachment(folder)
        await wait_until(lambda: len(chat.attachment_bar.attached) == 40, timeout=120)
        assert opened == []  # nothing indexed while attaching
        await ask(pilot, "Qual é a taxa das esplanadas?")
        await wait_until(gate.entered.is_set)
        status = chat.query_one("#status")
        await wait_until(
            lambda: re.search(r"a procurar nos documentos: \d de 40…", str(status.content))
        )
        await pilot.press("escape")
        assert "pergunta não enviada: voltou à caixa" in notices
        gate.release.set()
        await wait_until(lambda: not chat.generating, timeout=30)
        assert len(opened) == 5  # stopped before the sixth note
        assert app.store.list("") == []
        assert chat.query_one(PromptInput).text == "Qual é a taxa das esplanadas?"
