"""The download itself: resumable, hashed on the way, verified, then moved into place."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from amalia_local.formatting import Bytes
from amalia_local.store.errors import ChecksumError, DownloadError, HubError
from amalia_local.store.hub.cache import (
    Fetched,
    from_cache_offline,
    partial_path,
    snapshot_entry,
    storage,
)
from amalia_local.store.hub.calls import hub_call, network_errors, short
from amalia_local.store.hub.checksums import GIT_SHA1, HASH_CHUNK, SHA256, HashingFile, verify
from amalia_local.store.hub.head import HEAD_CHECK_MIN_SIZE, check_head
from amalia_local.store.hub.progress import ProgressCallback, tqdm_adapter
from amalia_local.store.lock import FileLock

if TYPE_CHECKING:
    from amalia_local.store.hub.settings import HubSettings
    from amalia_local.store.names import HubRef

# Resumes of a connection dropped mid-file within one pull, each after bytes arrived.
_RESUME_RETRIES = 5


def fetch(
    ref: HubRef,
    settings: HubSettings,
    lock_dir: Path,
    progress: ProgressCallback | None = None,
) -> Fetched:
    """Make ``ref`` (with its file resolved) present and verified in the Hub cache."""
    if ref.filename is None:
        raise ValueError("resolve_file() first")
    what = f"{ref.repo}/{ref.filename}"
    if settings.offline:
        return from_cache_offline(ref, settings, what)

    from huggingface_hub import get_hf_file_metadata, hf_hub_url

    url = hf_hub_url(ref.repo, ref.filename, revision=ref.revision, endpoint=settings.endpoint)
    meta = hub_call(
        lambda: get_hf_file_metadata(
            url, token=settings.token, timeout=settings.timeout, endpoint=settings.endpoint
        ),
        settings,
        ref.repo,
        ref.filename,
    )
    if not meta.commit_hash or not meta.etag:
        raise HubError("error.hub_bad_answer", endpoint=settings.endpoint)
    etag = meta.etag
    if not (SHA256.match(etag) or GIT_SHA1.match(etag)):
        # Nothing to verify against; and the etag names a file in the cache, so anything
        # but a hex digest (say "../x") must never reach the file system.
        raise ChecksumError("error.hub_no_checksum", name=what)
    blob = storage(settings, ref.repo) / "blobs" / etag
    partial = partial_path(settings, ref.repo, etag)
    downloaded = 0
    created = False
    # One lock per blob: a second pull of the same file waits, then finds it done.
    with FileLock(lock_dir / f"{etag[:64]}.lock", timeout=None):
        if not blob.exists():
            created = True
            big = meta.size is not None and meta.size >= HEAD_CHECK_MIN_SIZE
            if big and not partial.exists():
                check_head(url, settings, what)
            downloaded, streamed = _download(url, partial, meta.size, settings, progress, what)
            try:
                sha256 = verify(partial, etag, what, streamed)
            except ChecksumError:
                partial.unlink(missing_ok=True)  # wrong bytes: resuming them would stay wrong
                raise
            os.replace(partial, blob)
        else:
            sha256 = verify(blob, etag, what)
        path = snapshot_entry(ref, settings, blob)
    return Fetched(path, sha256, blob.stat().st_size, meta.commit_hash, downloaded, created)


def _download(
    url: str,
    partial: Path,
    expected_size: int | None,
    settings: HubSettings,
    progress: ProgressCallback | None,
    what: str,
) -> tuple[int, str | None]:
    """Append the missing bytes to ``partial`` (Range request).

    Returns the bytes received and the sha256 of the whole file when it could be computed
    on the way (the bytes already there are hashed first, which costs a read of them).
    """
    from huggingface_hub.errors import HfHubHTTPError
    from huggingface_hub.file_download import http_get
    from huggingface_hub.utils import build_hf_headers

    partial.parent.mkdir(parents=True, exist_ok=True)
    resume = partial.stat().st_size if partial.exists() else 0
    if expected_size is not None and resume > expected_size:
        partial.unlink()
        resume = 0
    if expected_size is not None:
        free = shutil.disk_usage(partial.parent).free
        if free < expected_size - resume:
            raise DownloadError(
                "error.disk_full",
                path=partial.parent,
                needed=Bytes(expected_size - resume),
                free=Bytes(free),
            )
    headers = build_hf_headers(token=settings.token)
    hasher = hashlib.sha256()
    if resume:
        with open(partial, "rb") as done:
            while chunk := done.read(HASH_CHUNK):
                hasher.update(chunk)
    sink_hash: Any = hasher
    retries = _RESUME_RETRIES
    while True:
        start = partial.stat().st_size if partial.exists() else 0
        try:
            with open(partial, "ab") as fh:
                sink = HashingFile(fh, sink_hash)
                try:
                    http_get(
                        url,
                        # Not a BinaryIO: the write/seek/truncate http_get calls, hashed.
                        sink,  # type: ignore[arg-type]
                        resume_size=start,
                        headers=headers,
                        expected_size=expected_size,
                        displayed_filename=what,
                        tqdm_class=tqdm_adapter(progress),
                    )
                finally:
                    sink_hash = sink.hasher
            break
        except HfHubHTTPError as exc:
            status = exc.response.status_code if exc.response is not None else "?"
            raise DownloadError(
                "error.download_failed", name=what, reason=f"HTTP {status}"
            ) from exc
        except network_errors() as exc:
            # huggingface_hub 2.x resumes a dropped connection itself; 1.x gives up on a
            # cut mid-body (RemoteProtocolError), so resume here while bytes still arrive.
            progressed = partial.exists() and partial.stat().st_size > start
            if progressed and retries > 0:
                retries -= 1
                continue
            raise DownloadError("error.download_failed", name=what, reason=short(exc)) from exc
        except OSError as exc:
            raise DownloadError("error.download_failed", name=what, reason=short(exc)) from exc
    return partial.stat().st_size - resume, sink.sha256
