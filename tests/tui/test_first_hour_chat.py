"""A new user's first hour in the chat: pull then ``amalia``, and ``--offline`` honoured."""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tiny_gguf import ANSWER_TEXT
from tui_helpers import SIZE, ask, screen_text, wait_answer, wait_ready, wait_until

from amalia_local.config import Config
from amalia_local.i18n import Translator
from amalia_local.locations import Locations
from amalia_local.runtime import Runtime
from amalia_local.tui.run import ChatRequest, build_app
from amalia_local.tui.screens.chat import ChatScreen
from amalia_local.tui.screens.first_run import FirstRunScreen

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "store"))

from fake_hub import FakeHub

AMALIA_REPO = "teex-pt/AMALIA-9B-0626-DPO-GGUF"
AMALIA_FILE = "AMALIA-9B-0626-DPO-Q4_K_M.gguf"


@pytest.fixture
def hub(tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    """The catalogue's default model on a fake Hub that this process's store talks to."""
    fake = FakeHub()
    fake.add(AMALIA_REPO, AMALIA_FILE, tiny_model.read_bytes())
    fake.start()
    for name in [n for n in os.environ if n.startswith(("HF_", "HUGGING", "TRANSFORMERS_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("HF_ENDPOINT", fake.endpoint)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    yield fake
    fake.stop()


@pytest.fixture
def runtime(home: Path) -> Runtime:
    Config(temperature=0.0, threads=2, n_ctx=1024).save(home / "config")
    return Runtime(
        locations=Locations.resolve({"AMALIA_HOME": str(home)}), translator=Translator("en")
    )


async def test_pull_then_plain_amalia_opens_the_chat_with_that_model(hub, runtime, home):
    from amalia_local.services.pull import pull
    from amalia_local.store import ModelStore

    out = io.StringIO()
    assert pull("amalia", ModelStore.open(runtime.locations), runtime, out) == 0
    assert "amalia:q4_k_m is now the default model" in out.getvalue()
    app = build_app(ChatRequest(), runtime)  # what plain `amalia` builds
    async with app.run_test(size=SIZE) as pilot:
        assert isinstance(app.screen, ChatScreen)
        await wait_ready(app)
        assert app.model_ref == "amalia:q4_k_m"
        await ask(pilot, "Olá")
        await wait_answer(app)
        assert ANSWER_TEXT in screen_text(app)


@pytest.mark.parametrize("switch", ["flag", "env", "config"])
async def test_offline_first_run_screen_never_reaches_the_hub(
    hub, runtime, home, monkeypatch, switch
):
    if switch == "env":
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    if switch == "config":
        Config(offline=True).save(home / "config")
    app = build_app(ChatRequest(offline=switch == "flag"), runtime)
    async with app.run_test(size=SIZE) as pilot:
        assert isinstance(app.screen, FirstRunScreen)
        offers = app.screen.query_one("#offers")
        offers.focus()
        offers.highlighted = 0
        await pilot.press("enter")
        status = app.screen.query_one("#pull-status")
        await wait_until(lambda: "offline" in str(status.render()), timeout=30)
        assert isinstance(app.screen, FirstRunScreen)
    assert hub.state.requests == []
    assert not (home.parent / "hf").exists() or not any((home.parent / "hf").rglob("*.gguf"))
