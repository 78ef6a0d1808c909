"""The UI speaks the locale's language, all of it, and --lang / the settings override it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tui_helpers import SIZE, screen_text, wait_ready

from amalia_local.config import Config
from amalia_local.i18n import Translator, load_catalogue
from amalia_local.locations import Locations
from amalia_local.runtime import Runtime
from amalia_local.tui.run import ChatRequest, build_app


def leaked_english(screen: str) -> list[str]:
    """English-only catalogue texts found on the screen as whole words."""
    return [
        text
        for text in english_only_texts()
        if re.search(r"(?<!\w)" + re.escape(text) + r"(?!\w)", screen)
    ]


def english_only_texts() -> list[str]:
    """Catalogue texts that differ between the languages and would betray a mixed screen."""
    en, pt = load_catalogue("en"), load_catalogue("pt")
    return [
        text
        for key, text in en.items()
        if text != pt[key] and "{" not in text and "\n" not in text and len(text) >= 5
    ]


@pytest.fixture
def locale(monkeypatch: pytest.MonkeyPatch):
    def _set(value: str) -> None:
        for name in ("AMALIA_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("LANG", value)

    return _set


def app_for(home: Path, model: Path | None, **request: object):
    """As the CLI builds it: the translator follows the environment."""
    runtime = Runtime(
        locations=Locations.resolve({"AMALIA_HOME": str(home)}), translator=Translator()
    )
    return build_app(ChatRequest(model=str(model) if model else None, **request), runtime)


async def test_portuguese_locale_gives_an_all_portuguese_chat(locale, home, tiny_model):
    locale("pt_PT.UTF-8")
    app = app_for(home, tiny_model)
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(app)
        await pilot.press("f1")
        await pilot.pause()
        help_text = screen_text(app)
        await pilot.press("escape")
        await pilot.pause()
        text = screen_text(app) + help_text
    assert "Escreva uma pergunta" in text and "Conversas" in text and "Teclas" in text
    assert leaked_english(text) == []


async def test_portuguese_first_run_screen(locale, home):
    locale("pt_BR.UTF-8")
    app = app_for(home, None)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        text = screen_text(app)
    assert "Bem-vindo ao AMALIA" in text and "ficheiro" in text
    assert leaked_english(text) == []


async def test_english_locale_gives_english(locale, home, tiny_model):
    locale("en_GB.UTF-8")
    app = app_for(home, tiny_model)
    async with app.run_test(size=SIZE):
        await wait_ready(app)
        text = screen_text(app)
    assert "Type a question" in text and "Conversations" in text


async def test_language_in_the_settings_beats_the_locale_but_not_lang(locale, home, tiny_model):
    locale("C.UTF-8")
    Config(language="pt").save(home / "config")
    app = app_for(home, tiny_model)
    assert app.translator.lang == "pt"
    app = app_for(home, tiny_model, language_forced=True)
    assert app.translator.lang == "en"
