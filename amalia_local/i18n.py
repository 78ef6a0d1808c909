"""One catalogue of user-facing text in English and European Portuguese.

Text lives in ``locales/<lang>.json`` so translators edit data, not code, and a test
can prove that every key exists in every language.
"""

from __future__ import annotations

import json
import os
import sys
from functools import lru_cache
from typing import Any

from amalia_local.formatting import NumberFormat

LANGUAGES = ("en", "pt")
# Each language by its own name, as language pickers show them.
LANGUAGE_NAMES = {"pt": "Português (Portugal)", "en": "English"}
DEFAULT_LANGUAGE = "en"


def detect_language(environ: dict[str, str] | None = None) -> str:
    """Pick pt for any Portuguese locale, English otherwise.

    POSIX precedence: LC_ALL overrides LC_MESSAGES, which overrides LANG. ``AMALIA_LANG``
    beats all of them so a user can switch without touching the system locale.
    """
    env = os.environ if environ is None else environ
    for name in ("AMALIA_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(name, "")
        if value:
            return normalise_language(value)
    if sys.platform == "win32" and environ is None:
        return _windows_language()
    return DEFAULT_LANGUAGE


def _windows_language() -> str:
    """Windows keeps the language of its menus out of the environment: ask for it."""
    if sys.platform != "win32":  # tells mypy that ctypes.windll exists
        return DEFAULT_LANGUAGE
    import ctypes

    primary = ctypes.windll.kernel32.GetUserDefaultUILanguage() & 0x3FF
    return "pt" if primary == 0x16 else DEFAULT_LANGUAGE  # LANG_PORTUGUESE: pt-PT and pt-BR


def normalise_language(value: str) -> str:
    """Map ``pt_PT.UTF-8``, ``pt-BR``, ``PT`` ... to ``pt``; anything else to ``en``."""
    code = value.strip().lower().replace("-", "_").split(".")[0].split("_")[0]
    return code if code in LANGUAGES else DEFAULT_LANGUAGE


_LOCALES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "locales")


@lru_cache(maxsize=len(LANGUAGES))
def load_catalogue(lang: str) -> dict[str, str]:
    """Read one language's catalogue from the package data (cached: it never changes).

    Through this module's own loader: a file beside it when the package is installed, a
    member of the wheel when a bundle's ``install.py`` imports the package straight from
    the zipped wheel (``open`` fails there: the "folder" is a zip file). The loader is
    already imported; ``importlib.resources`` would cost 10-15 ms of every start, and
    ``amalia run --endpoint`` has 50 ms for all it does.
    """
    path = os.path.join(_LOCALES, f"{lang}.json")
    loader = __spec__.loader if __spec__ is not None else None
    if loader is None or not hasattr(loader, "get_data"):
        with open(path, "rb") as f:
            return json.loads(f.read().decode("utf-8"))
    return json.loads(loader.get_data(path).decode("utf-8"))


class Phrase:
    """A message inside another message's parameters, translated along with it (errors
    are raised far from any reader, so they cannot carry finished sentences)."""

    def __init__(self, key: str, **params: Any) -> None:
        self.key = key
        self.params = params


class Joined:
    """Several phrases joined by a translated word (``document.advice.or``: " or ")."""

    def __init__(self, joiner: str, phrases: list[Phrase]) -> None:
        self.joiner = joiner
        self.phrases = phrases


class _KeepMissing(dict[str, Any]):
    """Parameters for ``format_map``: a missing one stays as its placeholder."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def fill(template: str, values: dict[str, Any]) -> str:
    """``template`` with ``values`` put in; never raises.

    Error messages are written by the error handler itself, so a parameter a message
    lacks (or a translator's slip: a format spec on text, a positional field) must give
    a readable line, not a second exception in place of the first: a missing name stays
    as its placeholder, a template that cannot be filled is returned as written.
    """
    try:
        return template.format_map(_KeepMissing(values))
    except (KeyError, IndexError, ValueError, TypeError, AttributeError):
        return template


class Translator:
    """Formats catalogue entries in one language, falling back to English per key."""

    def __init__(self, lang: str | None = None) -> None:
        self.lang = normalise_language(lang) if lang else detect_language()
        self.numbers = NumberFormat(self.lang)

    @property
    def _messages(self) -> dict[str, str]:
        """Read when the first message is written: a command that says nothing (an
        answer streamed from a server) need not parse the catalogues at all."""
        return load_catalogue(self.lang)

    @property
    def _fallback(self) -> dict[str, str]:
        return load_catalogue(DEFAULT_LANGUAGE)

    def number(self, n: int) -> str:
        """An integer as the language writes it (``numbers.count``)."""
        return self.numbers.count(n)

    def t(self, key: str, **params: Any) -> str:
        template = self._messages.get(key) or self._fallback.get(key)
        if template is None:
            return key
        if not params:
            return template
        # sizes and counts that errors carry as Bytes / Count are written here, in this language
        return fill(template, {k: self._value(v) for k, v in params.items()})

    def _value(self, v: object) -> object:
        if isinstance(v, Phrase):
            return self.t(v.key, **v.params)
        if isinstance(v, Joined):
            return self.t(v.joiner).join(self.t(p.key, **p.params) for p in v.phrases)
        return self.numbers.value(v)
