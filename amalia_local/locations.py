"""The single place that knows where amalia-local keeps files on disk.

Defaults follow each platform's conventions (platformdirs). ``AMALIA_HOME`` moves
everything under one folder: handy for portable installs on a USB stick and for tests.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "amalia-local"


@dataclass(frozen=True)
class Locations:
    """Resolved directories; created lazily by whoever writes there."""

    data_dir: Path
    config_dir: Path
    log_dir: Path
    cache_dir: Path

    @property
    def llama_log_file(self) -> Path:
        return self.log_dir / "llama.log"

    @property
    def kv_state_dir(self) -> Path:
        """Saved KV states of conversations: a cache, safe to delete at any time."""
        return self.cache_dir / "kv-states"

    @classmethod
    def resolve(cls, environ: dict[str, str] | None = None) -> Locations:
        env = os.environ if environ is None else environ
        home = env.get("AMALIA_HOME")
        if home:
            root = Path(home).expanduser()
            return cls(root / "data", root / "config", root / "logs", root / "cache")
        return cls(
            data_dir=Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)),
            config_dir=Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)),
            log_dir=Path(platformdirs.user_log_dir(APP_NAME, appauthor=False)),
            cache_dir=Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)),
        )
