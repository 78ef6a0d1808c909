"""Sampling settings of a generation.

Load settings (context, KV type, threads, GPU layers) are decided with the fit check in
:mod:`amalia_local.fit`; ``LoadOptions`` is re-exported here for ``engine.LoadOptions``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from amalia_local.fit.settings import LoadOptions

# When the user sets no --max-tokens, keep this much room for the reply when trimming.
DEFAULT_REPLY_RESERVE = 512


@dataclass(frozen=True)
class SamplingOptions:
    temperature: float = 0.7
    top_p: float = 0.9
    top_k: int = 40
    min_p: float = 0.05
    repeat_penalty: float = 1.0
    max_tokens: int | None = None
    seed: int | None = None


__all__ = ["DEFAULT_REPLY_RESERVE", "LoadOptions", "SamplingOptions"]


def __getattr__(name: str) -> Any:
    """``LoadOptions`` from :mod:`amalia_local.fit` when asked for: the client mode needs
    ``SamplingOptions`` only, and not the fit rules' imports with it."""
    if name == "LoadOptions":
        from amalia_local.fit.settings import LoadOptions

        return LoadOptions
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
