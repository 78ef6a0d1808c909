"""The issue's end-to-end scenario on the real SmolLM2-135M GGUF, driven with Pilot."""

from __future__ import annotations

import time
from pathlib import Path

from tui_helpers import SIZE, ask, click_conversation, sidebar_titles, wait_answer, wait_ready

from amalia_local.tui.screens.dialogs import ConfirmScreen, TextPromptScreen
from amalia_local.tui.widgets.messages import AnswerMessage, UserMessage

SYSTEM = "You are a helpful AI assistant."


def last_answer(app) -> str:
    answers = app.screen.query(AnswerMessage)
    return answers.last().source if answers else ""


async def test_stream_stop_restart_export_delete(make_app, smollm, tmp_path: Path):
    app = make_app(smollm, system_prompt=SYSTEM, max_tokens=1000)
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(app)

        # 1. A question is answered and the answer ends by itself.
        await ask(pilot, "What is the capital of France?")
        await wait_answer(app)
        answer = last_answer(app)
        assert "Paris" in answer
        conversation_id = app.chat_screen().conversation_id
        saved = app.store.get(conversation_id).messages
        assert (saved[-1].content, saved[-1].stop_reason) == (answer, "end")

        # 2. Esc during a long answer stops it (bench_stop.py times it); the partial text is kept.
        # It streams: the message list shows it growing, several states before the stop.
        await ask(pilot, "Write a very long story about a dragon who lives in Lisbon.")
        seen: set[str] = set()
        while app.chat_screen().answer is not None and (
            len(seen) < 4 or len(last_answer(app)) <= 40
        ):
            seen.add(last_answer(app))
            # Not much faster: the UI thread's CPU, this polling's too, counts against the
            # paint budget, and a busy UI thread is repainted less often.
            await pilot.pause(0.1)
        assert app.chat_screen().answer is not None, "the story ended before Esc"
        assert len(seen) >= 4
        pressed = time.monotonic()
        await pilot.press("escape")
        await wait_answer(app, timeout=10)
        # Against a hang only: the speed is tests/benchmarks/bench_stop.py's figure.
        assert time.monotonic() - pressed < 5
        partial = last_answer(app)
        saved = app.store.get(conversation_id).messages[-1]
        assert saved.stop_reason == "cancelled"
        assert saved.content == partial and len(partial) > 40

    # 3. A new run of the app: the conversation is there, with both answers.
    app = make_app(smollm, system_prompt=SYSTEM)
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(app)
        assert sidebar_titles(app) == ["What is the capital of France?"]
        await click_conversation(pilot, 0)
        chat = app.chat_screen()
        assert chat.conversation_id == conversation_id
        assert len(chat.query(UserMessage)) == 2
        answers = chat.query(AnswerMessage)
        assert answers.first().source == answer
        assert answers.last().source == partial
        assert answers.last().border_subtitle == "stopped"

        # 4. Export to Markdown.
        target = tmp_path / "capital.md"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, TextPromptScreen)
        app.screen.query_one("#answer").value = str(target)
        await pilot.press("enter")
        await pilot.pause()
        text = target.read_text(encoding="utf-8")
        assert text.startswith("# What is the capital of France?\n")
        assert "- Model: " in text
        assert "## User\n\nWhat is the capital of France?\n" in text
        assert f"## Assistant\n\n{answer.strip()}\n" in text
        assert "## User\n\nWrite a very long story about a dragon who lives in Lisbon.\n" in text
        assert f"{partial.strip()}\n\n*(answer interrupted)*\n" in text

        # 5. Delete it (after confirming).
        await pilot.press("f8")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.click("#confirm")
        await pilot.pause()
        assert app.store.list() == []
        assert sidebar_titles(app) == []
        assert not app.screen.query(UserMessage)
