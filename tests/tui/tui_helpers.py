"""Fixtures for driving the real chat app headless, each test in its own AMALIA_HOME."""

from __future__ import annotations

import asyncio
import html
import inspect
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from amalia_local.config import Config
from amalia_local.i18n import Translator
from amalia_local.locations import Locations
from amalia_local.runtime import Runtime
from amalia_local.tui.app import AmaliaApp, LoadOverrides

SIZE = (100, 32)


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run ``async def`` tests in a fresh event loop (Textual's run_test is async)."""
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    names = pyfuncitem._fixtureinfo.argnames
    asyncio.run(pyfuncitem.obj(**{n: pyfuncitem.funcargs[n] for n in names}))
    return True


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def make_app(home: Path) -> Callable[..., AmaliaApp]:
    """An app on a fresh (or the test's shared) AMALIA_HOME; greedy sampling by default."""

    def _make(
        model: Path | str | None = None,
        *,
        lang: str = "en",
        n_ctx: int = 1024,
        **settings: object,
    ) -> AmaliaApp:
        locations = Locations.resolve({"AMALIA_HOME": str(home)})
        runtime = Runtime(locations=locations, translator=Translator(lang))
        config = replace(Config.load(locations.config_dir), temperature=0.0, threads=2)
        config = replace(config, **settings)  # type: ignore[arg-type]
        return AmaliaApp(runtime, config, str(model) if model else None, LoadOverrides(n_ctx=n_ctx))

    return _make


async def wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    """Poll the app's state; Pilot has no wait-for-condition of its own."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.02)


async def wait_ready(app: AmaliaApp) -> None:
    await wait_until(lambda: app.model is not None, timeout=60)
    await asyncio.sleep(0.05)


async def ask(pilot, text: str) -> None:
    """Type a question and press Enter, as a user does."""
    app = pilot.app
    prompt = app.screen.query_one("#prompt")
    prompt.focus()
    prompt.insert(text)
    await pilot.press("enter")
    await pilot.pause()


async def wait_answer(app: AmaliaApp, timeout: float = 60) -> None:
    await wait_until(lambda: not app.chat_screen().generating, timeout=timeout)
    await asyncio.sleep(0.05)


def screen_text(app: AmaliaApp) -> str:
    """What the terminal shows, as plain lines (from Textual's own SVG screenshot)."""
    svg = app.export_screenshot()
    rows: dict[float, list[tuple[float, str]]] = {}
    for match in re.finditer(r'<text[^>]*x="([\d.]+)"[^>]*y="([\d.]+)"[^>]*>(.*?)</text>', svg):
        x, y = float(match.group(1)), float(match.group(2))
        rows.setdefault(y, []).append((x, html.unescape(match.group(3)).replace("\xa0", " ")))
    return "\n".join("".join(t for _, t in sorted(rows[y])) for y in sorted(rows))


def sidebar_titles(app: AmaliaApp) -> list[str]:
    from amalia_local.tui.widgets.sidebar import Sidebar

    return app.screen.query_one(Sidebar).titles


async def click_conversation(pilot, row: int) -> None:
    """Click the sidebar's row ``row`` (one line per conversation), as a user does."""
    await pilot.click("#conversations", offset=(2, row))
    await pilot.pause()
