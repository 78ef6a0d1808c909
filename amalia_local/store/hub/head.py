"""A GGUF's header, read with a ranged request before gigabytes move."""

from __future__ import annotations

from typing import TYPE_CHECKING

from amalia_local.store.errors import DownloadError, UnsupportedModelError
from amalia_local.store.hub.calls import network_errors, short

if TYPE_CHECKING:
    from amalia_local.store.hub.settings import HubSettings

# Files at least this big get their GGUF header read (a ranged GET) before the download;
# smaller ones cost little more to fetch whole and are checked after, as always.
HEAD_CHECK_MIN_SIZE = 32 * 1024 * 1024
_HEAD_FIRST_READ = 2 * 1024 * 1024
_HEAD_MAX_READ = 64 * 1024 * 1024  # a header bigger than this is checked after download


def check_head(url: str, settings: HubSettings, what: str) -> None:
    """Read the file's first megabytes and refuse, before gigabytes move, a GGUF this
    llama.cpp cannot run: not GGUF, an unknown architecture, or one part of a split."""
    from amalia_local.gguf_header import NeedMoreBytes, NotGguf, read_head
    from amalia_local.model_file import KNOWN_ARCHITECTURES

    size = _HEAD_FIRST_READ
    while True:
        data = _read_prefix(url, settings, size, what)
        try:
            head = read_head(data)
            break
        except NeedMoreBytes as more:
            if len(data) < size or more.needed > _HEAD_MAX_READ:
                return  # a short file or a huge header: inspected after the download
            size = more.needed
        except NotGguf as exc:
            raise UnsupportedModelError(
                "error.pull_not_gguf", name=what, reason=exc.reason
            ) from exc
    if not head.architecture:
        raise UnsupportedModelError("error.pull_no_architecture", name=what)
    if head.architecture not in KNOWN_ARCHITECTURES:
        raise UnsupportedModelError(
            "error.pull_unknown_architecture", name=what, arch=head.architecture
        )
    if head.split_count > 1:
        raise UnsupportedModelError("error.pull_split", name=what, count=head.split_count)


def _read_prefix(url: str, settings: HubSettings, size: int, what: str) -> bytes:
    """The first ``size`` bytes through huggingface_hub's HTTP client (ranged GET; a
    server that ignores Range is simply read no further)."""
    from huggingface_hub.errors import HfHubHTTPError
    from huggingface_hub.utils import build_hf_headers, hf_raise_for_status, http_stream_backoff

    headers = {**build_hf_headers(token=settings.token), "Range": f"bytes=0-{size - 1}"}
    parts: list[bytes] = []
    received = 0
    try:
        with http_stream_backoff(
            "GET", url, headers=headers, timeout=settings.timeout, max_retries=2
        ) as response:
            hf_raise_for_status(response)
            for chunk in response.iter_bytes():
                parts.append(chunk)
                received += len(chunk)
                if received >= size:
                    break
    except HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else "?"
        raise DownloadError("error.download_failed", name=what, reason=f"HTTP {status}") from exc
    except network_errors() as exc:
        raise DownloadError("error.download_failed", name=what, reason=short(exc)) from exc
    return b"".join(parts)[:size]
