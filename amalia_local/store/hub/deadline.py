"""A hard deadline on a Hub request, DNS resolution included."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from amalia_local.store.errors import NetworkError

if TYPE_CHECKING:
    from amalia_local.store.hub.settings import HubSettings

T = TypeVar("T")


def with_deadline(fn: Callable[[], T], seconds: float, settings: HubSettings) -> T:
    """Run ``fn`` but give up after ``seconds`` even if it is stuck in DNS resolution,
    which no HTTP timeout covers; the stuck thread is a daemon and dies with us."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, name="amalia-hub-request", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise NetworkError(
            "error.hub_unreachable",
            endpoint=settings.endpoint,
            reason=f"no answer in {seconds:g} s",
        )
    if "error" in box:
        raise box["error"]
    return box["value"]
