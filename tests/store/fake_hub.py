"""A stand-in for the Hugging Face Hub's file endpoints on 127.0.0.1, for offline tests.

It answers exactly what huggingface_hub's real client asks (checked against its 2.x
source: ``get_hf_file_metadata``, ``http_get``, ``HfApi.model_info``):

* ``HEAD/GET /{owner}/{repo}/resolve/{revision}/{file}`` with ``X-Repo-Commit``, ``ETag``,
  for LFS files ``X-Linked-Etag`` (the sha256) and ``X-Linked-Size``, ``Content-Length``,
  ``Accept-Ranges`` and ``Range`` (``bytes=N-`` or ``bytes=N-M``) -> 206 with ``Content-Range``;
* ``GET /api/models/{owner}/{repo}[/revision/{rev}]`` with ``siblings`` (and ``lfs.sha256``);
* 404s carrying ``X-Error-Code`` (``RepoNotFound``, ``EntryNotFound``) as the Hub does.

Faults are switched on per test: cut the connection after N bytes, refuse further
requests, publish a wrong sha256, or never answer at all. Every byte of file content
sent is counted, which is how tests prove a resumed download did not start over.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@dataclass
class RepoFile:
    data: bytes
    published_sha256: str | None = None  # None: the true sha256

    def __post_init__(self) -> None:
        self.sha256 = self.published_sha256 or hashlib.sha256(self.data).hexdigest()


@dataclass
class HubState:
    repos: dict[str, dict[str, RepoFile]] = field(default_factory=dict)
    cut_after: int | None = None  # close the connection after this many body bytes (once)
    fail_after_cut: bool = False  # answer 503 to every request after the cut
    ignore_range: bool = False  # answer 200 with everything, like some CDNs do
    cdn_host: str | None = None  # LFS files: 302 to http://{cdn_host}:PORT/cdn/..., as the Hub does
    throttle: float = 0.0  # seconds to sleep per 64 KiB sent: makes downloads overlap
    cut_done: bool = False
    bytes_sent: int = 0
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)  # method, path, Range
    lock: threading.Lock = field(default_factory=threading.Lock)


_RESOLVE = re.compile(r"^/([^/]+/[^/]+)/resolve/([^/]+)/(.+)$")
_CDN = re.compile(r"^/cdn/([^/]+/[^/]+)/(.+)$")
_API = re.compile(r"^/api/models/([^/]+/[^/]+)(?:/revision/([^/]+))?$")


class _Handler(BaseHTTPRequestHandler):
    server_version = "FakeHub/1"
    protocol_version = "HTTP/1.1"

    @property
    def state(self) -> HubState:
        return self.server.state  # type: ignore[attr-defined]

    def log_message(self, *args: object) -> None:  # keep pytest output clean
        return None

    def _error(self, status: int, code: str | None = None) -> None:
        self.send_response(status)
        if code:
            self.send_header("X-Error-Code", code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def do_GET(self) -> None:
        self._serve(body=True)

    def _serve(self, body: bool) -> None:
        state = self.state
        path = self.path.split("?", 1)[0]
        with state.lock:
            state.requests.append((self.command, path, self.headers.get("Range")))
            refuse = state.fail_after_cut and state.cut_done
        if refuse:
            self._error(503)
            return
        api = _API.match(path)
        if api:
            self._api(api.group(1))
            return
        cdn = _CDN.match(path)
        match = _RESOLVE.match(path)
        if cdn:
            repo, filename = cdn.groups()
        elif match:
            repo, _revision, filename = match.groups()
        else:
            self._error(404)
            return
        if repo not in state.repos:
            self._error(404, "RepoNotFound")
            return
        entry = state.repos[repo].get(filename)
        if entry is None:
            self.send_response(404)
            self.send_header("X-Error-Code", "EntryNotFound")
            self.send_header("X-Repo-Commit", COMMIT)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if match and state.cdn_host:
            # The Hub answers /resolve/ for LFS files with a redirect to its CDN; the
            # metadata travels on the redirect itself (huggingface_hub reads it there).
            port = self.server.server_address[1]
            self.send_response(302)
            self.send_header("Location", f"http://{state.cdn_host}:{port}/cdn/{repo}/{filename}")
            self.send_header("X-Repo-Commit", COMMIT)
            self.send_header("X-Linked-Etag", f'"{entry.sha256}"')
            self.send_header("X-Linked-Size", str(len(entry.data)))
            self.send_header("ETag", '"git-pointer-etag"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = entry.data
        start, end = 0, None
        range_header = self.headers.get("Range")
        if body and range_header and not state.ignore_range:
            bounds = re.match(r"bytes=(\d+)-(\d*)", range_header)
            start = int(bounds.group(1))
            end = min(int(bounds.group(2)), len(data) - 1) if bounds.group(2) else None
        chunk = data[start:] if end is None else data[start : end + 1]
        self.send_response(206 if start or end is not None else 200)
        self.send_header("X-Repo-Commit", COMMIT)
        self.send_header("ETag", f'"{entry.sha256}"')
        self.send_header("X-Linked-Etag", f'"{entry.sha256}"')
        self.send_header("X-Linked-Size", str(len(data)))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(len(chunk)))
        if start or end is not None:
            last = len(data) - 1 if end is None else end
            self.send_header("Content-Range", f"bytes {start}-{last}/{len(data)}")
        self.end_headers()
        if not body:
            return
        with state.lock:
            cut = None if state.cut_done or state.cut_after is None else state.cut_after
            if cut is not None:
                state.cut_done = True
        payload = chunk if cut is None else chunk[:cut]
        step = 64 * 1024
        for offset in range(0, len(payload), step):
            piece = payload[offset : offset + step]
            try:
                self.wfile.write(piece)
                self.wfile.flush()
            except OSError:  # the client went away
                return
            with state.lock:
                state.bytes_sent += len(piece)
            if state.throttle:
                time.sleep(state.throttle)
        if cut is not None:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)

    def _api(self, repo: str) -> None:
        files = self.state.repos.get(repo)
        if files is None:
            self._error(404, "RepoNotFound")
            return
        siblings = [
            {
                "rfilename": name,
                "size": len(f.data),
                "lfs": {"sha256": f.sha256, "size": len(f.data), "pointerSize": 134},
            }
            for name, f in files.items()
        ]
        payload = json.dumps({"id": repo, "modelId": repo, "sha": COMMIT, "siblings": siblings})
        raw = payload.encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        return None  # clients that hang up mid-transfer are what the tests do on purpose


class FakeHub:
    """The server and its state; ``endpoint`` goes into HF_ENDPOINT."""

    def __init__(self) -> None:
        self.state = HubState()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.state = self.state  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def add(
        self, repo: str, filename: str, data: bytes, published_sha256: str | None = None
    ) -> None:
        self.state.repos.setdefault(repo, {})[filename] = RepoFile(data, published_sha256)

    def start(self) -> FakeHub:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class SilentServer:
    """Accepts TCP connections and never answers: a network that hangs, not refuses."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)

    @property
    def endpoint(self) -> str:
        host, port = self._sock.getsockname()
        return f"http://{host}:{port}"

    def close(self) -> None:
        self._sock.close()
