"""The chat and saved KV states: a reopened conversation is not evaluated again, and Esc
stops even the evaluation of a long prompt."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest
from tui_helpers import SIZE, ask, click_conversation, wait_answer, wait_ready, wait_until

from amalia_local.config import Config
from amalia_local.engine import StopReason
from amalia_local.i18n import Translator
from amalia_local.locations import Locations
from amalia_local.runtime import Runtime
from amalia_local.tui.app import AmaliaApp, LoadOverrides


async def test_reopened_conversation_evaluates_only_the_new_tokens(make_app, tiny_model):
    app = make_app(tiny_model)
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(app)
        await ask(pilot, "Quantos dias tem uma semana?")
        await wait_answer(app)
        first = app.chat_screen()._last_stats
        assert first is not None
    seen = first.prompt_tokens + first.generated_tokens

    app = make_app(tiny_model)  # a new start of the app: nothing in memory
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(app)
        await click_conversation(pilot, 0)
        await ask(pilot, "E um ano?")
        await wait_answer(app)
        stats = app.chat_screen()._last_stats
        assert stats is not None
        assert stats.prompt_tokens_restored == seen
        # llama.cpp's counter: only the new question and the end of the last answer.
        assert stats.prompt_tokens_evaluated == stats.prompt_tokens - seen


@pytest.mark.smollm
async def test_escape_stops_a_long_prompt_evaluation_where_it_is(smollm, home: Path):
    locations = Locations.resolve({"AMALIA_HOME": str(home)})
    runtime = Runtime(locations=locations, translator=Translator("en"))
    config = replace(Config.load(locations.config_dir), temperature=0.0, threads=2)
    app = AmaliaApp(runtime, config, str(smollm), LoadOverrides(n_ctx=4096))
    question = "Resume este texto sobre Lisboa, as suas ruas e o rio. " * 160  # ~3,500 tokens
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(app)
        await ask(pilot, question)
        chat = app.chat_screen()
        await wait_until(lambda: chat.answer is not None, timeout=10)
        await pilot.pause(0.5)
        assert chat.answer is not None, "the prompt was evaluated before Esc"
        pressed = time.monotonic()
        await pilot.press("escape")
        await wait_answer(app, timeout=10)
        stopped_after = time.monotonic() - pressed
        stats = chat._last_stats
        assert stats is not None and stats.stop_reason is StopReason.CANCELLED
        assert stats.sampled_tokens == 0, "stopped during the prompt, not after it"
        # Against a hang only: the speed is tests/benchmarks/bench_stop.py's figure.
        assert stopped_after < 5, stopped_after
