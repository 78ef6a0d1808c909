"""The single place that knows where amalia-local keeps files on disk.

Defaults follow each platform's conventions (platformdirs). ``AMALIA_HOME`` moves
everything under one folder: handy for portable installs on a USB stick and for tests.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

APP_NAME = "amalia-local"


@dataclass(frozen=True)
class Locations:
    """Resolved directories; created lazily by whoever writes there."""

    data_dir: Path
    config_dir: Path
    log_dir: Path
    cache_dir: Path
    wheel_cache: Path | None = None  # AMALIA_WHEEL_CACHE; default under cache_dir

    @property
    def llama_log_file(self) -> Path:
        return self.log_dir / "llama.log"

    @property
    def llama_wheels(self) -> Path:
        """Portable llama-cpp-python wheels built for bundles (minutes each to build).

        ``AMALIA_WHEEL_CACHE`` moves them on their own, so that a throw-away
        ``AMALIA_HOME`` (tests, a stick) can still reuse a build made earlier.
        """
        return self.wheel_cache or self.cache_dir / "llama-wheels"

    @property
    def llama_build_log(self) -> Path:
        return self.log_dir / "llama-build.log"

    @property
    def kv_state_dir(self) -> Path:
        """Saved KV states of conversations: a cache, safe to delete at any time."""
        return self.cache_dir / "kv-states"

    @classmethod
    def resolve(cls, environ: dict[str, str] | None = None) -> Locations:
        env = os.environ if environ is None else environ
        wheels = env.get("AMALIA_WHEEL_CACHE")
        wheel_cache = Path(wheels).expanduser() if wheels else None
        home = env.get("AMALIA_HOME")
        if home:
            root = Path(home).expanduser()
            return cls(root / "data", root / "config", root / "logs", root / "cache", wheel_cache)
        import platformdirs  # only here: 3-10 ms that an AMALIA_HOME (tests, a stick) skips

        return cls(
            data_dir=Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)),
            config_dir=Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)),
            log_dir=Path(platformdirs.user_log_dir(APP_NAME, appauthor=False)),
            cache_dir=Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)),
            wheel_cache=wheel_cache,
        )
