"""The Hub cache's layout, shared with huggingface_hub and every tool that uses it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from amalia_local.store.errors import HubError, HubNotFoundError, NetworkError, OfflineError
from amalia_local.store.hub.calls import hub_call
from amalia_local.store.hub.checksums import GIT_SHA1, verify

if TYPE_CHECKING:
    from amalia_local.store.hub.settings import HubSettings
    from amalia_local.store.names import HubRef


@dataclass(frozen=True)
class Fetched:
    """A verified file in the Hub cache."""

    path: Path  # the snapshot entry (symlink to the blob on POSIX)
    sha256: str
    size: int
    commit: str | None
    downloaded: int  # bytes transferred by this call (0: reused from the cache)
    created: bool = False  # the blob was written by us (now or by an interrupted pull)


def storage(settings: HubSettings, repo: str) -> Path:
    from huggingface_hub.file_download import repo_folder_name

    return settings.cache_dir / repo_folder_name(repo_id=repo, repo_type="model")


def partial_path(settings: HubSettings, repo: str, etag: str) -> Path:
    """Where an interrupted download of blob ``etag`` waits to be resumed."""
    return storage(settings, repo) / "blobs" / f"{etag}.incomplete"


def snapshot_entry(ref: HubRef, settings: HubSettings, blob: Path) -> Path:
    """Let huggingface_hub create its snapshot entry for our blob (no bytes transferred:
    it finds the blob in place). Falls back to the blob if that extra request fails."""
    from huggingface_hub import hf_hub_download

    try:
        path = hub_call(
            lambda: hf_hub_download(
                ref.repo,
                ref.filename or "",
                revision=ref.revision,
                cache_dir=settings.cache_dir,
                endpoint=settings.endpoint,
                token=settings.token,
                etag_timeout=settings.timeout,
            ),
            settings,
            ref.repo,
            ref.filename or "",
        )
    except (NetworkError, HubError, HubNotFoundError):
        return blob
    entry = Path(str(path))
    return entry if entry.resolve() == blob.resolve() else blob


def from_cache_offline(ref: HubRef, settings: HubSettings, what: str) -> Fetched:
    """Offline pull: register a file another tool (or an earlier pull) already cached.

    ``try_to_load_from_cache`` only reads the cache folders; ``hf_hub_download`` with
    ``local_files_only`` would still build request headers, which can reach the network.
    """
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(
        ref.repo, ref.filename or "", cache_dir=settings.cache_dir, revision=ref.revision
    )
    if not isinstance(found, str):
        raise OfflineError("error.offline_download", name=what, reason=settings.offline_reason)
    path = Path(found)
    blob = path.resolve()
    sha256 = verify(blob, blob.name, what)
    commit = path.parent.name if GIT_SHA1.match(path.parent.name) else None
    return Fetched(path, sha256, blob.stat().st_size, commit, 0)


def remove_cached(path: Path, settings: HubSettings) -> bool:
    """Delete a snapshot entry and its blob unless another snapshot still points at it;
    True when the blob's bytes were freed."""
    try:
        blob = path.resolve()
    except OSError:
        blob = path
    path.unlink(missing_ok=True)
    if blob == path or not blob.exists():
        return False
    repo_dir = blob.parent.parent
    for other in (repo_dir / "snapshots").rglob("*"):
        if other.is_symlink() and other.resolve() == blob:
            return False
    if settings.cache_dir.resolve() in blob.parents:
        blob.unlink(missing_ok=True)
        return True
    return False
