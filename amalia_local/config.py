"""The user's settings, in ``config.toml`` under the platform config dir.

Typed and loaded once per process; written atomically (``filecopy.write_text_atomic``)
so a crash while saving never leaves a half-written config behind.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from amalia_local.errors import AmaliaError

CONFIG_NAME = "config.toml"


@dataclass
class Config:
    """Every setting a user can change; ``None`` means "let amalia-local choose"."""

    model: str | None = None  # a path to a .gguf file or a model name from the store
    system_prompt: str | None = None  # None: the model's default (AMALIA gets one in pt-PT)
    temperature: float = 0.7
    top_p: float = 0.9
    max_tokens: int | None = None
    n_ctx: int | None = None
    threads: int | None = None
    gpu_layers: int | None = None
    kv_type: str | None = None  # "f16", "q8_0" or "q4_0"; None: f16 unless RAM is short
    state_cache_gb: float = 4.0  # disk for saved conversation states; 0 turns saving off
    language: str | None = None  # "pt" or "en"; None follows the locale
    offline: bool = False  # never touch the network, even when it is there

    @classmethod
    def load(cls, config_dir: Path) -> Config:
        path = config_dir / CONFIG_NAME
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls()
        except (OSError, UnicodeDecodeError) as exc:
            raise AmaliaError("error.config_invalid", path=path, reason=str(exc)) from exc
        # Only when there is a file: tomllib costs 4-8 ms of a start that may have none.
        import tomllib

        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise AmaliaError("error.config_invalid", path=path, reason=str(exc)) from exc
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in raw.items() if k in known}
        return cls(**values)

    def save(self, config_dir: Path) -> Path:
        from amalia_local.filecopy import write_text_atomic  # hashlib, tempfile: not at start

        config_dir.mkdir(parents=True, exist_ok=True)
        path = config_dir / CONFIG_NAME
        text = "".join(
            f"{k} = {_toml_value(v)}\n" for k, v in asdict(self).items() if v is not None
        )
        write_text_atomic(path, text, mode=0o600)  # private, as the user's own settings
        return path


def _toml_value(value: Any) -> str:
    """The few TOML scalars our settings use (no writer in the standard library)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    text = str(value)
    escaped = (
        text.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\t", "\\t")
        .replace("\r", "\\r")
    )
    return f'"{escaped}"'
