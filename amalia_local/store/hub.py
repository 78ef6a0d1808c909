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
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from amalia_local.formatting import Bytes
from amalia_local.store.errors import (
    ChecksumError,
    DownloadError,
    HubError,
    HubNotFoundError,
    NetworkError,
    OfflineError,
    UnsupportedModelError,
)
from amalia_local.store.lock import FileLock
from amalia_local.store.names import HubRef, is_split, match_quant

DEFAULT_ENDPOINT = "https://huggingface.co"
# Metadata requests are tiny: if the Hub has not answered in this time there is no usable
# network, and the user should hear so at once rather than after a long hang. It is a
# hard deadline on the whole call (see _with_deadline): measured with huggingface_hub
# 2.4, its own timeout=3 can take 6 s to fire when HF_ENDPOINT names the host.
DEFAULT_METADATA_TIMEOUT = 3.0
_HASH_CHUNK = 8 * 1024 * 1024
# Files at least this big get their GGUF header read (a ranged GET) before the download;
# smaller ones cost little more to fetch whole and are checked after, as always.
HEAD_CHECK_MIN_SIZE = 32 * 1024 * 1024
_HEAD_FIRST_READ = 2 * 1024 * 1024
_HEAD_MAX_READ = 64 * 1024 * 1024  # a header bigger than this is checked after download
# Resumes of a connection dropped mid-file within one pull, each after bytes arrived.
_RESUME_RETRIES = 5
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_GIT_SHA1 = re.compile(r"^[0-9a-f]{40}$")

ProgressCallback = Callable[[int, "int | None"], None]
"""Called with (bytes done, total bytes or None) as a download advances."""

T = TypeVar("T")


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


@dataclass(frozen=True)
class Fetched:
    """A verified file in the Hub cache."""

    path: Path  # the snapshot entry (symlink to the blob on POSIX)
    sha256: str
    size: int
    commit: str | None
    downloaded: int  # bytes transferred by this call (0: reused from the cache)
    created: bool = False  # the blob was written by us (now or by an interrupted pull)


def _network_errors() -> tuple[type[BaseException], ...]:
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


def _with_deadline(fn: Callable[[], T], seconds: float, settings: HubSettings) -> T:
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


def _hub_call(fn: Callable[[], T], settings: HubSettings, repo: str, what: str) -> T:
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
        return _with_deadline(fn, settings.timeout, settings)
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
    except _network_errors() as exc:
        raise NetworkError(
            "error.hub_unreachable", endpoint=settings.endpoint, reason=_short(exc)
        ) from exc


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:160] if text else type(exc).__name__


# --- which file ------------------------------------------------------------------------
def list_files(ref: HubRef, settings: HubSettings) -> list[str]:
    """Files of a repo revision: from the Hub, or from the local cache when offline."""
    if settings.offline:
        snapshots = _storage(settings, ref.repo) / "snapshots"
        return sorted(
            {
                p.relative_to(snap).as_posix()
                for snap in snapshots.glob("*")
                for p in snap.rglob("*.gguf")
            }
        )
    from huggingface_hub import HfApi

    api = HfApi(endpoint=settings.endpoint, token=settings.token)
    info = _hub_call(
        lambda: api.model_info(ref.repo, revision=ref.revision, timeout=settings.timeout),
        settings,
        ref.repo,
        ref.repo,
    )
    return [s.rfilename for s in (info.siblings or [])]


def resolve_file(ref: HubRef, settings: HubSettings) -> HubRef:
    """Pick the file a quant tag names (shortest match wins: the plain, non-variant one)."""
    if ref.filename is not None:
        if is_split(ref.filename):
            raise HubError("error.hub_split_unsupported", file=ref.filename)
        return ref
    files = list_files(ref, settings)
    matches = match_quant(files, ref.quant or "")
    if not matches:
        ggufs = [f for f in files if f.lower().endswith(".gguf")]
        if settings.offline:
            raise OfflineError(
                "error.offline_download",
                name=f"hf:{ref.repo}:{ref.quant}",
                reason=settings.offline_reason,
            )
        raise HubNotFoundError(
            "error.hub_no_quant",
            repo=ref.repo,
            quant=ref.quant,
            available=", ".join(ggufs) or "-",
        )
    chosen = min(matches, key=lambda f: (len(f), f))
    if is_split(chosen):
        raise HubError("error.hub_split_unsupported", file=chosen)
    return ref.with_file(chosen)


# --- cache layout ------------------------------------------------------------------------
def _storage(settings: HubSettings, repo: str) -> Path:
    from huggingface_hub.file_download import repo_folder_name

    return settings.cache_dir / repo_folder_name(repo_id=repo, repo_type="model")


def partial_path(settings: HubSettings, repo: str, etag: str) -> Path:
    """Where an interrupted download of blob ``etag`` waits to be resumed."""
    return _storage(settings, repo) / "blobs" / f"{etag}.incomplete"


# --- verification ------------------------------------------------------------------------
@dataclass(frozen=True)
class Digests:
    sha256: str
    git_sha1: str


def digests(path: Path, *, git_sha1: bool = True) -> Digests:
    """sha256 (what LFS publishes) and, if asked, git's blob sha1 (small files), one read.

    The sha1 is skipped for LFS files: it would add ~75% to the time (measured 1.8 s/GB
    for sha256 alone, 3.2 s/GB for both).
    """
    size = path.stat().st_size
    sha256 = hashlib.sha256()
    git = hashlib.sha1(f"blob {size}\0".encode(), usedforsecurity=False)
    with open(path, "rb") as fh:
        while chunk := fh.read(_HASH_CHUNK):
            sha256.update(chunk)
            if git_sha1:
                git.update(chunk)
    return Digests(sha256.hexdigest(), git.hexdigest() if git_sha1 else "")


def _check(path: Path, etag: str, what: str, sha256: str | None = None) -> str:
    """Verify ``path`` against the Hub's etag; returns its sha256 or raises ChecksumError.

    ``sha256`` is the digest computed while downloading, when there is one.
    """
    if _SHA256.match(etag):
        actual = sha256 or digests(path, git_sha1=False).sha256
        ok = actual == etag
    elif _GIT_SHA1.match(etag):
        found = digests(path)
        actual, ok = found.sha256, found.git_sha1 == etag
    else:
        raise ChecksumError("error.hub_no_checksum", name=what)
    if not ok:
        raise ChecksumError("error.checksum_mismatch", name=what, expected=etag, actual=actual)
    return actual


class _HashingFile:
    """The partial file as ``http_get`` sees it, hashing bytes as they are written.

    Saves re-reading gigabytes after the download. ``http_get`` only seeks or truncates
    when a server ignores our Range request and resends everything; the running hash is
    then void and :attr:`sha256` is None (the file is hashed afterwards instead).
    """

    def __init__(self, fh: Any, hasher: Any) -> None:
        self._fh = fh
        self._hasher: Any = hasher

    def write(self, data: bytes) -> int:
        if self._hasher is not None:
            self._hasher.update(data)
        return self._fh.write(data)

    def seek(self, *args: Any) -> int:
        self._hasher = None
        return self._fh.seek(*args)

    def truncate(self, *args: Any) -> int:
        self._hasher = None
        return self._fh.truncate(*args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fh, name)

    @property
    def hasher(self) -> Any:
        """The running hash, or None once it is void (carried over to a resumed attempt)."""
        return self._hasher

    @property
    def sha256(self) -> str | None:
        return self._hasher.hexdigest() if self._hasher is not None else None


# --- fetching ------------------------------------------------------------------------------
def _tqdm_adapter(callback: ProgressCallback | None) -> type:
    """A class with the slice of tqdm's interface ``http_get`` uses, feeding ``callback``."""

    class _Bar:
        def __init__(self, *_args: Any, total: int | None = None, initial: int = 0, **_kw: Any):
            self.total = total
            self.n = initial
            if callback is not None:
                callback(self.n, self.total)

        def update(self, n: int = 1) -> None:
            self.n += n
            if callback is not None:
                callback(self.n, self.total)

        def __enter__(self) -> _Bar:
            return self

        def __exit__(self, *_exc: object) -> None:
            return None

        def close(self) -> None:
            return None

    return _Bar


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
        return _from_cache_offline(ref, settings, what)

    from huggingface_hub import get_hf_file_metadata, hf_hub_url

    url = hf_hub_url(ref.repo, ref.filename, revision=ref.revision, endpoint=settings.endpoint)
    meta = _hub_call(
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
    if not (_SHA256.match(etag) or _GIT_SHA1.match(etag)):
        # Nothing to verify against; and the etag names a file in the cache, so anything
        # but a hex digest (say "../x") must never reach the file system.
        raise ChecksumError("error.hub_no_checksum", name=what)
    blob = _storage(settings, ref.repo) / "blobs" / etag
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
                sha256 = _check(partial, etag, what, streamed)
            except ChecksumError:
                partial.unlink(missing_ok=True)  # wrong bytes: resuming them would stay wrong
                raise
            os.replace(partial, blob)
        else:
            sha256 = _check(blob, etag, what)
        path = _snapshot_entry(ref, settings, blob)
    return Fetched(path, sha256, blob.stat().st_size, meta.commit_hash, downloaded, created)


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
    except _network_errors() as exc:
        raise DownloadError("error.download_failed", name=what, reason=_short(exc)) from exc
    return b"".join(parts)[:size]


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
            while chunk := done.read(_HASH_CHUNK):
                hasher.update(chunk)
    sink_hash: Any = hasher
    retries = _RESUME_RETRIES
    while True:
        start = partial.stat().st_size if partial.exists() else 0
        try:
            with open(partial, "ab") as fh:
                sink = _HashingFile(fh, sink_hash)
                try:
                    http_get(
                        url,
                        sink,  # type: ignore[arg-type]
                        resume_size=start,
                        headers=headers,
                        expected_size=expected_size,
                        displayed_filename=what,
                        tqdm_class=_tqdm_adapter(progress),
                    )
                finally:
                    sink_hash = sink.hasher
            break
        except HfHubHTTPError as exc:
            status = exc.response.status_code if exc.response is not None else "?"
            raise DownloadError(
                "error.download_failed", name=what, reason=f"HTTP {status}"
            ) from exc
        except _network_errors() as exc:
            # huggingface_hub 2.x resumes a dropped connection itself; 1.x gives up on a
            # cut mid-body (RemoteProtocolError), so resume here while bytes still arrive.
            progressed = partial.exists() and partial.stat().st_size > start
            if progressed and retries > 0:
                retries -= 1
                continue
            raise DownloadError("error.download_failed", name=what, reason=_short(exc)) from exc
        except OSError as exc:
            raise DownloadError("error.download_failed", name=what, reason=_short(exc)) from exc
    return partial.stat().st_size - resume, sink.sha256


def _snapshot_entry(ref: HubRef, settings: HubSettings, blob: Path) -> Path:
    """Let huggingface_hub create its snapshot entry for our blob (no bytes transferred:
    it finds the blob in place). Falls back to the blob if that extra request fails."""
    from huggingface_hub import hf_hub_download

    try:
        path = _hub_call(
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


def _from_cache_offline(ref: HubRef, settings: HubSettings, what: str) -> Fetched:
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
    sha256 = _check(blob, blob.name, what)
    commit = path.parent.name if _GIT_SHA1.match(path.parent.name) else None
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
