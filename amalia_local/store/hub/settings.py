"""Every Hub setting in one place: the environment, the config and the CLI, read once."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_ENDPOINT = "https://huggingface.co"
# Metadata requests are tiny: if the Hub has not answered in this time there is no usable
# network, and the user should hear so at once rather than after a long hang. It is a
# hard deadline on the whole call (see deadline.py): measured with huggingface_hub
# 2.4, its own timeout=3 can take 6 s to fire when HF_ENDPOINT names the host.
DEFAULT_METADATA_TIMEOUT = 3.0


def _truthy(value: str | None) -> bool:
    return (value or "").strip().upper() in {"1", "ON", "YES", "TRUE"}


@dataclass(frozen=True)
class HubSettings:
    """Every Hub setting, resolved once from the environment, the config and the CLI."""

    endpoint: str
    cache_dir: Path
    token: str | None
    offline: bool
    offline_reason: str | None  # "--offline", "config" or "HF_HUB_OFFLINE"
    timeout: float

    @classmethod
    def resolve(
        cls,
        environ: dict[str, str] | None = None,
        *,
        offline_flag: bool = False,
        config_offline: bool = False,
        default_cache: Path | None = None,
    ) -> HubSettings:
        """Read HF_ENDPOINT, HF_HOME/HF_HUB_CACHE, HF_TOKEN, HF_HUB_OFFLINE the way
        huggingface_hub does, but at call time (its constants are frozen at import).

        ``default_cache`` replaces huggingface_hub's default cache folder when neither
        HF_HOME nor HF_HUB_CACHE is set (used for AMALIA_HOME: everything in one folder).
        """
        env = os.environ if environ is None else environ
        if env.get("HF_HUB_CACHE"):
            cache = Path(env["HF_HUB_CACHE"])
        elif default_cache is not None and not env.get("HF_HOME"):
            cache = default_cache
        else:
            xdg = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
            cache = Path(env.get("HF_HOME") or Path(xdg) / "huggingface") / "hub"
        reason = None
        if offline_flag:
            reason = "--offline"
        elif _truthy(env.get("HF_HUB_OFFLINE")) or _truthy(env.get("TRANSFORMERS_OFFLINE")):
            reason = "HF_HUB_OFFLINE"
        elif config_offline:
            reason = "config"
        try:
            timeout = float(env.get("HF_HUB_ETAG_TIMEOUT") or DEFAULT_METADATA_TIMEOUT)
        except ValueError:
            timeout = DEFAULT_METADATA_TIMEOUT
        return cls(
            endpoint=(env.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/"),
            cache_dir=cache.expanduser(),
            token=env.get("HF_TOKEN") or None,
            offline=reason is not None,
            offline_reason=reason,
            timeout=timeout,
        )
