"""The user's settings, in ``config.toml`` under the platform config dir.

Typed and loaded once per process (``Runtime.config``); every value is checked when the
file is read, so a wrong one is a line naming the key, never a failure far downstream
(``state_cache_gb = "4"`` once ended ``run`` in a ValueError from ``int()``). Written
atomically (``filecopy.write_text_atomic``) so a crash while saving never leaves a
half-written config behind.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from amalia_local.errors import ConfigError
from amalia_local.formatting import Count
from amalia_local.i18n import LANGUAGES, Phrase
from amalia_local.kv_type import KV_TYPE_CHOICES

CONFIG_NAME = "config.toml"

# A check takes the value as tomllib read it and returns it as the setting holds it,
# or raises _Wrong with what it expected.
Check = Callable[[Any], Any]


class _Wrong(Exception):
    def __init__(self, expected: Phrase) -> None:
        self.expected = expected


def _flag() -> Check:
    def check(value: Any) -> bool:
        if not isinstance(value, bool):
            raise _Wrong(Phrase("config.expect.bool"))
        return value

    return check


def _whole(low: int) -> Check:
    def check(value: Any) -> int:
        # bool is an int to Python; ``threads = true`` is not a count
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise _Wrong(Phrase("config.expect.whole_min", min=Count(low)))
        return value

    return check


def _number(low: int, high: int | None = None) -> Check:
    def check(value: Any) -> float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not ok or not math.isfinite(value) or value < low or (high is not None and value > high):
            if high is None:
                raise _Wrong(Phrase("config.expect.number_min", min=Count(low)))
            raise _Wrong(Phrase("config.expect.number_range", min=Count(low), max=Count(high)))
        return float(value)

    return check


def _text(empty: bool = True) -> Check:
    def check(value: Any) -> str:
        if not isinstance(value, str) or (not empty and not value):
            raise _Wrong(Phrase("config.expect.text" if empty else "config.expect.nonempty_text"))
        return value

    return check


def _one_of(choices: tuple[str, ...]) -> Check:
    def check(value: Any) -> str:
        text = value.strip().lower() if isinstance(value, str) else None
        if text not in choices:
            from amalia_local.toml_text import toml_value

            raise _Wrong(
                Phrase("config.expect.one_of", choices=", ".join(map(toml_value, choices)))
            )
        return text

    return check


def _setting(default: Any, check: Check) -> Any:
    """A field whose check sits beside it (read by ``_checked``)."""
    return field(default=default, metadata={"check": check})


@dataclass
class Config:
    """Every setting a user can change; ``None`` means "let amalia-local choose".

    The ranges are the settings screen's (``tui/screens/settings.py``) and the flags'
    (``--ctx``, ``--threads`` must be positive; ``--gpu-layers -1`` means all).
    """

    # a path to a .gguf file or a model name from the store
    model: str | None = _setting(None, _text(empty=False))
    # None: the model's default (AMALIA gets one in pt-PT); "" asks for none
    system_prompt: str | None = _setting(None, _text())
    temperature: float = _setting(0.7, _number(0, 5))
    top_p: float = _setting(0.9, _number(0, 1))
    max_tokens: int | None = _setting(None, _whole(1))
    n_ctx: int | None = _setting(None, _whole(1))
    threads: int | None = _setting(None, _whole(1))
    gpu_layers: int | None = _setting(None, _whole(-1))
    # "f16", "q8_0" or "q4_0"; None: f16 unless RAM is short
    kv_type: str | None = _setting(None, _one_of(KV_TYPE_CHOICES))
    # disk for saved conversation states; 0 turns saving off
    state_cache_gb: float = _setting(4.0, _number(0))
    language: str | None = _setting(None, _one_of(LANGUAGES))  # None follows the locale
    offline: bool = _setting(False, _flag())  # never touch the network, even when it is there

    @classmethod
    def load(cls, config_dir: Path) -> Config:
        """The settings, ignoring keys this version does not know (see ``read``)."""
        return cls.read(config_dir)[0]

    @classmethod
    def read(cls, config_dir: Path) -> tuple[Config, tuple[str, ...]]:
        """The settings and the keys this version does not know, for the caller to
        report: a misspelt key (``temprature``) must not pass unnoticed, yet a key from a
        newer version must not stop an older one."""
        path = config_dir / CONFIG_NAME
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls(), ()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError("error.config_invalid", path=path, reason=str(exc)) from exc
        # Only when there is a file: tomllib costs 4-8 ms of a start that may have none.
        import tomllib

        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError("error.config_invalid", path=path, reason=str(exc)) from exc
        checks = {f.name: f.metadata["check"] for f in fields(cls)}
        values = {k: _checked(path, k, v, checks[k]) for k, v in raw.items() if k in checks}
        return cls(**values), tuple(k for k in raw if k not in checks)

    def save(self, config_dir: Path) -> Path:
        from amalia_local.filecopy import write_text_atomic  # hashlib, tempfile: not at start
        from amalia_local.toml_text import toml_value  # writing and errors only: not at start

        config_dir.mkdir(parents=True, exist_ok=True)
        path = config_dir / CONFIG_NAME
        text = "".join(f"{k} = {toml_value(v)}\n" for k, v in asdict(self).items() if v is not None)
        write_text_atomic(path, text, mode=0o600)  # private, as the user's own settings
        return path


def _checked(path: Path, key: str, value: Any, check: Check) -> Any:
    try:
        return check(value)
    except _Wrong as wrong:
        from amalia_local.toml_text import quoted

        raise ConfigError(
            "error.config_value",
            path=path,
            setting=key,
            value=quoted(value),
            expected=wrong.expected,
        ) from None
