"""The chat app driven headless with Pilot on the generated tiny models."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

from tiny_gguf import ANSWER_TEXT
from tui_helpers import (
    SIZE,
    ask,
    click_conversation,
    screen_text,
    sidebar_titles,
    wait_answer,
    wait_ready,
    wait_until,
)

from amalia_local.config import Config
from amalia_local.tui.screens.chat import ChatScreen
from amalia_local.tui.screens.dialogs import ConfirmScreen, TextPromptScreen
from amalia_local.tui.screens.first_run import FirstRunScreen
from amalia_local.tui.widgets.messages import AnswerMessage, UserMessage


def answers(app) -> list[str]:
    return [a.source for a in app.screen.query(AnswerMessage)]


async def test_question_is_answered_and_saved(make_app, tiny_model):
    app = make_app(tiny_model)
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(app)
        await ask(pilot, "Olá")
        await wait_answer(app)
        assert answers(app) == [ANSWER_TEXT]
        assert [u.content for u in app.screen.query(UserMessage)] == ["Olá"]
        assert app.screen.query_one("#prompt").text == ""
        (summary,) = app.store.list()
        assert summary.title == "Olá"
        saved = app.store.get(summary.id)
        assert [(m.role, m.content, m.complete) for m in saved.messages] == [
            ("user", "Olá", True),
            ("assistant", ANSWER_TEXT, True),
        ]
        status = str(app.screen.query_one("#status").render())
        assert "tiny-scripted" in status and "CPU" in status and "tokens/s" in status


async def test_ctrl_j_inserts_a_newline_and_enter_sends(make_app, tiny_model):
    app = make_app(tiny_model)
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(app)
        await pilot.press("u", "m", "ctrl+j", "d", "o", "i", "s")
        assert app.screen.query_one("#prompt").text == "um\ndois"
        await pilot.press("enter")
        await wait_answer(app)
        assert app.store.get(app.store.list()[0].id).messages[0].content == "um\ndois"


async def test_escape_stops_and_keeps_the_partial_answer(make_app, smollm):
    # SmolLM2 rather than a tiny model: a long story outlasts the time it takes to press Esc.
    app = make_app(smollm, system_prompt="You are a helpful AI assistant.")
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(app)
        await ask(pilot, "Write a very long story about a dragon who lives in Lisbon.")
        await wait_until(lambda: len(answers(app)[-1]) > 20)
        started = time.monotonic()
        await pilot.press("escape")
        await wait_answer(app, timeout=10)
        # Against a hang only: the speed is tests/benchmarks/bench_stop.py's figure.
        assert time.monotonic() - started < 5
        shown = answers(app)[-1]
        saved = app.store.get(app.store.list()[0].id).messages[-1]
        assert saved.stop_reason == "cancelled" and saved.complete
        assert saved.content == shown and len(shown) > 20
        assert app.screen.query(AnswerMessage).last().border_subtitle == "stopped"


async def test_regenerate_edit_copy_and_new_conversation(make_app, tiny_model):
    app = make_app(tiny_model)
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(app)
        await ask(pilot, "Primeira")
        await wait_answer(app)
        conversation_id = app.store.list()[0].id

        await pilot.press("ctrl+r")
        await wait_answer(app)
        assert answers(app) == [ANSWER_TEXT]
        stored = app.store.get(conversation_id).messages
        assert [m.role for m in stored] == ["user", "assistant"]

        await pilot.press("f3")
        assert app.clipboard == ANSWER_TEXT

        await pilot.press("ctrl+l")
        await pilot.pause()
        assert app.screen.query_one("#prompt").text == "Primeira"
        assert not app.screen.query(UserMessage)
        assert app.store.get(conversation_id).messages == []
        prompt = app.screen.query_one("#prompt")
        prompt.text = "Primeira, corrigida"
        await pilot.press("enter")
        await wait_answer(app)
        stored = app.store.get(conversation_id).messages
        assert [m.content for m in stored] == ["Primeira, corrigida", ANSWER_TEXT]

        await pilot.press("ctrl+n")
        await pilot.pause()
        assert not app.screen.query(AnswerMessage)
        await ask(pilot, "Segunda")
        await wait_answer(app)
        assert len(app.store.list()) == 2


async def test_reopen_rename_search_and_delete(make_app, tiny_model):
    app = make_app(tiny_model)
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(app)
        for question in ("Sobre Lisboa", "Sobre o Porto"):
            await pilot.press("ctrl+n")
            await ask(pilot, question)
            await wait_answer(app)

    app = make_app(tiny_model)  # a new run of the app on the same data dir
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(app)
        assert sidebar_titles(app) == ["Sobre o Porto", "Sobre Lisboa"]
        await click_conversation(pilot, 1)
        assert [u.content for u in app.screen.query(UserMessage)] == ["Sobre Lisboa"]
        # Carry on in the reopened conversation: the model sees its history.
        await ask(pilot, "E mais?")
        await wait_answer(app)
        chat = app.chat_screen()
        assert [m.content for m in chat.service.messages][:2] == ["Sobre Lisboa", ANSWER_TEXT]

        await pilot.press("f2")
        await pilot.pause()
        assert isinstance(app.screen, TextPromptScreen)
        app.screen.query_one("#answer").value = "Lisboa antiga"
        await pilot.press("enter")
        await pilot.pause()
        assert app.store.get(chat.conversation_id).title == "Lisboa antiga"
        assert chat.query_one("#conversation").border_title == "Lisboa antiga"

        await pilot.press("ctrl+f")
        await pilot.press(*"porto")
        await pilot.pause()
        assert sidebar_titles(app) == ["Sobre o Porto"]
        chat.query_one("#search").value = ""
        await pilot.pause()

        chat.query_one("#prompt").focus()
        await pilot.press("f8")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("escape")  # cancelled: nothing deleted
        await pilot.pause()
        assert len(app.store.list()) == 2
        await pilot.press("f8")
        await pilot.pause()
        await pilot.click("#confirm")
        await pilot.pause()
        assert [c.title for c in app.store.list()] == ["Sobre o Porto"]
        assert chat.conversation_id is None and not chat.query(UserMessage)


async def test_old_turns_dropped_shows_a_notice(make_app, tiny_model):
    app = make_app(tiny_model, max_tokens=16)
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(app)
        notice = app.screen.query_one("#notice")
        for i in range(12):
            await ask(pilot, f"Pergunta {i}: " + "conversa longa " * 12)
            await wait_answer(app)
            if notice.has_class("-visible"):
                break
        assert notice.has_class("-visible")
        assert "older messages were left out" in str(notice.render())


async def test_first_run_explains_and_remembers_the_model(make_app, tiny_model, home: Path):
    app = make_app(None)
    async with app.run_test(size=SIZE) as pilot:
        assert isinstance(app.screen, FirstRunScreen)
        await pilot.press("enter")
        await pilot.pause()
        assert "Type the path" in str(app.screen.query_one("#first-run-error").render())
        app.screen.query_one("#model-path").value = str(tiny_model)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ChatScreen)
        await wait_ready(app)
    assert Config.load(home / "config").model == str(tiny_model)


async def test_a_bad_model_file_is_a_message_not_a_traceback(make_app, tmp_path: Path):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a model")
    app = make_app(bad)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(lambda: app.loading is None and bool(app._notifications))
        await pilot.pause()
        (notification,) = list(app._notifications)
        assert "not a GGUF model file" in notification.message
        assert "No model loaded" in str(app.screen.query_one("#status").render())


async def test_settings_are_saved_and_the_system_prompt_is_used(make_app, tiny_model, home):
    app = make_app(tiny_model)
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(app)
        await pilot.press("ctrl+o")
        await pilot.pause()
        screen = app.screen
        screen.query_one("#system-prompt").text = "És um assistente de testes."
        screen.query_one("#temperature").value = "0,2"
        screen.query_one("#max-tokens").value = "64"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, ChatScreen)
        await ask(pilot, "Olá")
        await wait_answer(app)
        visible = app.chat_screen().service.session.visible_messages()
        assert visible[0].content == "És um assistente de testes."
    saved = Config.load(home / "config")
    assert (saved.temperature, saved.max_tokens) == (0.2, 64)
    assert saved.system_prompt == "És um assistente de testes."


async def test_help_and_command_palette_are_translated(make_app, tiny_model):
    app = make_app(tiny_model, lang="pt")
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(app)
        await pilot.press("f1")
        await pilot.pause()
        text = screen_text(app)
        assert "Nova linha" in text and "Ctrl+J" in text and "Parar" in text
        await pilot.press("escape")
        commands = [c.title for c in app.get_system_commands(app.screen)]
        assert "Exportar para Markdown" in commands and "Sair" in commands
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"nova")
        await asyncio.sleep(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ChatScreen)


async def test_first_run_offers_the_catalogue_when_nothing_is_installed(make_app, home):
    app = make_app(None)
    async with app.run_test(size=SIZE):
        assert isinstance(app.screen, FirstRunScreen)
        offers = app.screen.query_one("#offers")
        assert offers.get_option_at_index(0).id == "amalia:q4_k_m"


async def test_an_installed_model_opens_the_chat_without_the_picker(make_app, tiny_model, home):
    from amalia_local.locations import Locations
    from amalia_local.store import ModelStore

    locations = Locations.resolve({"AMALIA_HOME": str(home)})
    ModelStore.open(locations).import_file(tiny_model, "tiny")
    app = make_app(None)
    async with app.run_test(size=SIZE) as pilot:
        assert isinstance(app.screen, ChatScreen)
        await wait_ready(app)
        assert Path(app.model.location).name == "tiny.gguf"
        await ask(pilot, "Olá")
        await wait_answer(app)
        assert answers(app) == [ANSWER_TEXT]


async def test_first_run_downloads_from_the_catalogue(
    make_app, tiny_model, home, tmp_path, monkeypatch
):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "store"))
    from fake_hub import FakeHub

    hub = FakeHub()
    hub.add(
        "teex-pt/AMALIA-9B-0626-DPO-GGUF", "AMALIA-9B-0626-DPO-Q4_K_M.gguf", tiny_model.read_bytes()
    )
    hub.start()
    for name in [n for n in os.environ if n.startswith(("HF_", "HUGGING"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    try:
        app = make_app(None)
        async with app.run_test(size=SIZE) as pilot:
            offers = app.screen.query_one("#offers")
            offers.focus()
            offers.highlighted = 0
            await pilot.press("enter")
            await wait_until(lambda: isinstance(app.screen, ChatScreen), timeout=60)
            await wait_ready(app)
            assert app.model_ref == "amalia:q4_k_m"
            await ask(pilot, "Olá")
            await wait_answer(app)
            assert answers(app) == [ANSWER_TEXT]
    finally:
        hub.stop()
    assert Config.load(home / "config").model == "amalia:q4_k_m"


async def test_the_language_is_chosen_in_the_settings_and_applies_at_once(
    make_app, tiny_model, home
):
    app = make_app(tiny_model, lang="en")
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(app)
        await ask(pilot, "Olá")
        await wait_answer(app)
        assert "New conversation" in screen_text(app)
        await pilot.press("ctrl+o")
        await pilot.pause()
        app.screen.query_one("#language").value = "pt"
        await pilot.press("ctrl+s")
        await wait_until(lambda: "Nova conversa" in screen_text(app))
        text = screen_text(app)
        assert "Escreva uma pergunta" in text and "Parar" in text and "New conversation" not in text
        # The same conversation is still on screen, relabelled.
        assert [u.content for u in app.screen.query(UserMessage)] == ["Olá"]
        assert app.screen.query(AnswerMessage).last().border_title == app.model_label()
        assert Config.load(home / "config").language == "pt"

        await pilot.press("ctrl+o")
        await pilot.pause()
        labels = [str(label.render()) for label in app.screen.query("Label")]
        assert "Idioma da interface" in labels
        app.screen.query_one("#language").value = "auto"
        await pilot.press("ctrl+s")
        await pilot.pause()
    assert Config.load(home / "config").language is None


async def test_copy_takes_the_selected_answer_or_else_the_last(make_app, tiny_model):
    app = make_app(tiny_model)
    conversation = app.store.create("Duas perguntas", "tiny-scripted")
    for question, answer in (("Um?", "Primeira **resposta**."), ("Dois?", "Segunda resposta.")):
        app.store.add_message(conversation, "user", question)
        app.store.add_message(conversation, "assistant", answer)
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(app)
        await click_conversation(pilot, 0)
        first, last = app.screen.query(AnswerMessage)
        await pilot.click(first)
        await pilot.press("f3")
        assert app.clipboard == "Primeira **resposta**."
        app.screen.query_one("#prompt").focus()
        await pilot.press("f3")
        assert app.clipboard == "Segunda resposta."
        await pilot.press("shift+tab")  # from the question box back to the last answer
        assert app.screen.focused is last
