"""SVG snapshots of the main screens in both languages (pytest-textual-snapshot).

Kept deterministic: fixed terminal size, a model opened by a relative path, greedy
sampling, a conversation written to the store beforehand (no timings on screen).
Update with ``pytest tests/tui/test_snapshots.py --snapshot-update`` after a deliberate
change, and look at the report before committing.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tui_helpers import SIZE, wait_ready

ANSWER = """Lisboa é a capital de Portugal. Alguns factos:

- fica na foz do **Tejo**;
- tem cerca de 550 mil habitantes.

| Cidade | Distrito |
|--------|----------|
| Lisboa | Lisboa   |
| Porto  | Porto    |

```python
print("Olá, Lisboa!")
```"""


@pytest.fixture
def relative_model(tiny_model: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(tiny_model.parent)
    return tiny_model.name


async def settle(pilot) -> None:
    """Stop cursors blinking (a blink mid-screenshot is not a difference) and let layout end."""
    for screen in pilot.app.screen_stack:
        for widget in screen.query("Input, TextArea"):
            widget.cursor_blink = False
    await pilot.pause()
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()


def with_conversation(app) -> int:
    conversation = app.store.create("Qual é a capital de Portugal?", "tiny-scripted")
    app.store.add_message(conversation, "user", "Qual é a capital de Portugal?")
    app.store.add_message(conversation, "assistant", ANSWER)
    return conversation


@pytest.mark.parametrize("lang", ["en", "pt"])
def test_chat_screen(snap_compare, make_app, relative_model, lang):
    app = make_app(relative_model, lang=lang)
    conversation = with_conversation(app)

    async def run_before(pilot) -> None:
        await wait_ready(app)
        await app.chat_screen().open_conversation(conversation)
        await app.chat_screen().refresh_sidebar()
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


@pytest.mark.parametrize("lang", ["en", "pt"])
def test_first_run_screen(snap_compare, make_app, lang):
    assert snap_compare(make_app(None, lang=lang), terminal_size=SIZE, run_before=settle)


@pytest.mark.parametrize("lang", ["en", "pt"])
def test_help_screen(snap_compare, make_app, relative_model, lang):
    app = make_app(relative_model, lang=lang)

    async def run_before(pilot) -> None:
        await wait_ready(app)
        await pilot.press("f1")
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


@pytest.mark.parametrize("lang", ["en", "pt"])
def test_settings_screen(snap_compare, make_app, relative_model, lang):
    app = make_app(relative_model, lang=lang)

    async def run_before(pilot) -> None:
        await wait_ready(app)
        await pilot.press("ctrl+o")
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
