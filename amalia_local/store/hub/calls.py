"""Calls to the Hub: telemetry off, a deadline, and its exceptions turned into ours."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from amalia_local.store.errors import (
    HubError,
    HubNotFoundError,
    NetworkError,
    OfflineError,
)
from amalia_local.store.hub.deadline import with_deadline

if TYPE_CHECKING:
    from amalia_local.store.hub.settings import HubSettings

T = TypeVar("T")


def network_errors() -> tuple[type[BaseException], ...]:
    """Connection-level exception types of whichever HTTP stack huggingface_hub uses."""
    found: list[type[BaseException]] = [ConnectionError, TimeoutError]
    for module_name in ("httpx2", "httpx"):
        try:
            module = __import__(module_name)
        except ImportError:
            continue
        for attr in ("TransportError", "TimeoutException"):
            cls = getattr(module, attr, None)
            if isinstance(cls, type):
                found.append(cls)
    return tuple(found)


def quiet_telemetry(environ: dict[str, str] | None = None) -> None:
    """Turn huggingface_hub's telemetry off unless the user chose a setting themselves.

    Why: huggingface_hub 2.x builds its User-Agent by fetching ``{ENDPOINT}/api/agent-
    harnesses`` (3 s timeout, retried in every process until it once succeeds). That is a
    request amalia-local never asked for: it would break the promise that ``--offline``
    opens no socket, and it doubles the time a pull takes to fail without a network.
    ``HF_HUB_DISABLE_TELEMETRY`` is huggingface_hub's own switch for exactly this.
    """
    env = os.environ if environ is None else environ
    if "HF_HUB_DISABLE_TELEMETRY" in env:
        return
    from huggingface_hub import constants

    constants.HF_HUB_DISABLE_TELEMETRY = True


def hub_call(fn: Callable[[], T], settings: HubSettings, repo: str, what: str) -> T:
    """Call the Hub and turn its exceptions into our typed, translatable ones."""
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        HfHubHTTPError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    if settings.offline:  # belt and braces: callers check first
        raise OfflineError("error.offline_download", name=what, reason=settings.offline_reason)
    quiet_telemetry()
    try:
        return with_deadline(fn, settings.timeout, settings)
    except OfflineModeIsEnabled as exc:
        raise OfflineError("error.offline_download", name=what, reason="HF_HUB_OFFLINE") from exc
    except GatedRepoError as exc:
        raise HubNotFoundError("error.hub_gated", repo=repo) from exc
    except RepositoryNotFoundError as exc:
        raise HubNotFoundError("error.hub_repo_not_found", repo=repo) from exc
    except RevisionNotFoundError as exc:
        raise HubNotFoundError("error.hub_revision_not_found", repo=repo) from exc
    except EntryNotFoundError as exc:
        raise HubNotFoundError("error.hub_file_not_found", repo=repo, file=what) from exc
    except HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else "?"
        raise HubError("error.hub_http", endpoint=settings.endpoint, status=status) from exc
    except network_errors() as exc:
        raise NetworkError(
            "error.hub_unreachable", endpoint=settings.endpoint, reason=short(exc)
        ) from exc


def short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:160] if text else type(exc).__name__
