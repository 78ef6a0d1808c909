"""Downloads from the Hugging Face Hub through huggingface_hub, resumable and verified.

Why not just ``hf_hub_download``: since huggingface_hub 1.x it writes each download to a
process-unique temporary file and deletes it on any failure, so an interrupted 5.6 GB
pull would start again from zero. We keep huggingface_hub for everything else — the
endpoint, token and proxy handling, the metadata request (``get_hf_file_metadata``),
the transfer with its in-process retries (``http_get`` with HTTP Range), and its cache
layout — but own the partial file: it lives at ``blobs/<etag>.incomplete`` in the Hub
cache under our lock, survives a crash or Ctrl-C, and is continued with a Range request
next time. The finished bytes are checked against the sha256 the Hub publishes (the
LFS etag) before they are moved into place, then ``hf_hub_download`` itself creates the
snapshot entry, so other tools see and reuse the file and we reuse theirs.

Nothing here opens a socket when :attr:`HubSettings.offline` is set.

One module per concern: ``settings`` (where the Hub is, offline or not), ``calls`` (every
request with a deadline and our typed errors), ``files`` (which file a name means),
``head`` (the GGUF header read first), ``download`` (the resumable transfer), ``checksums``,
``progress`` (the tqdm shim) and ``cache`` (the shared cache's layout). Names are exported
lazily: ``amalia list`` imports the settings and nothing of the download.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from amalia_local.lazy_names import lazy_getattr

if TYPE_CHECKING:
    from amalia_local.store.hub.cache import Fetched, partial_path, remove_cached
    from amalia_local.store.hub.calls import quiet_telemetry
    from amalia_local.store.hub.checksums import Digests, digests
    from amalia_local.store.hub.download import fetch
    from amalia_local.store.hub.files import list_files, resolve_file
    from amalia_local.store.hub.head import HEAD_CHECK_MIN_SIZE, check_head
    from amalia_local.store.hub.progress import ProgressCallback
    from amalia_local.store.hub.settings import (
        DEFAULT_ENDPOINT,
        DEFAULT_METADATA_TIMEOUT,
        HubSettings,
    )

_HOMES = {
    "DEFAULT_ENDPOINT": "settings",
    "DEFAULT_METADATA_TIMEOUT": "settings",
    "HubSettings": "settings",
    "quiet_telemetry": "calls",
    "list_files": "files",
    "resolve_file": "files",
    "HEAD_CHECK_MIN_SIZE": "head",
    "check_head": "head",
    "fetch": "download",
    "Digests": "checksums",
    "digests": "checksums",
    "ProgressCallback": "progress",
    "Fetched": "cache",
    "partial_path": "cache",
    "remove_cached": "cache",
}
__all__ = [
    "DEFAULT_ENDPOINT",
    "DEFAULT_METADATA_TIMEOUT",
    "HEAD_CHECK_MIN_SIZE",
    "Digests",
    "Fetched",
    "HubSettings",
    "ProgressCallback",
    "check_head",
    "digests",
    "fetch",
    "list_files",
    "partial_path",
    "quiet_telemetry",
    "remove_cached",
    "resolve_file",
]
__getattr__ = lazy_getattr(__name__, _HOMES)
