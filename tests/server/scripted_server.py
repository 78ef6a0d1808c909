"""An HTTP server on 127.0.0.1 whose every answer a test writes itself, byte by byte.

The client's own cases need a server that misbehaves on purpose (a 401, a stream that
breaks, chunks cut in the middle of a character, TLS with a certificate nobody signed);
no real server does that on demand. Each request is handed to ``script(handler)``,
which writes the raw answer with :func:`send_head`, :func:`send_chunk` and friends.
"""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from amalia_local.remote import http as remote_http

Script = Callable[["Handler"], None]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ScriptedServer

    def do_GET(self) -> None:
        self._answer(b"")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self._answer(self.rfile.read(length))

    def _answer(self, body: bytes) -> None:
        self.body = json.loads(body) if body else None
        self.server.requests.append((self.command, self.path, dict(self.headers), self.body))
        self.server.script(self)
        self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        pass


class ScriptedServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, script: Script) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.script = script
        self.requests: list[tuple[str, str, dict[str, str], object]] = []

    @property
    def url(self) -> str:
        scheme = "https" if isinstance(self.socket, ssl.SSLSocket) else "http"
        return f"{scheme}://127.0.0.1:{self.server_address[1]}"


@contextmanager
def scripted_server(script: Script, tls: ssl.SSLContext | None = None) -> Iterator[ScriptedServer]:
    server = ScriptedServer(script)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def send_head(handler: Handler, status: int, headers: dict[str, str]) -> None:
    lines = [f"HTTP/1.1 {status} {handler.responses.get(status, ('',))[0]}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    handler.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    handler.wfile.flush()


def send_json(handler: Handler, status: int, payload: object) -> None:
    body = json.dumps(payload).encode("utf-8")
    headers = {"Content-Type": "application/json", "Content-Length": str(len(body))}
    send_head(handler, status, headers)
    handler.wfile.write(body)
    handler.wfile.flush()


def send_chunk(handler: Handler, data: bytes) -> None:
    """One chunk of a ``Transfer-Encoding: chunked`` body (b"" ends the body)."""
    handler.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
    handler.wfile.flush()


def event(text: str | None = None, finish: str | None = None, **extra: object) -> bytes:
    """One server-sent event of an OpenAI chat completion stream."""
    payload: dict[str, object] = dict(extra)
    if text is not None or finish is not None:
        delta = {"content": text} if text is not None else {}
        payload["choices"] = [{"index": 0, "delta": delta, "finish_reason": finish}]
    return b"data: " + json.dumps(payload, ensure_ascii=False).encode("utf-8") + b"\n\n"


def models(*names: str) -> Script:
    """A script answering /models with ``names`` (and anything else with a 404)."""

    def script(handler: Handler) -> None:
        if handler.path.endswith("/models"):
            send_json(handler, 200, {"object": "list", "data": [{"id": n} for n in names]})
        else:
            send_json(handler, 404, {"error": {"message": "no such route"}})

    return script


# --- TLS --------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that no authority signed, made by the openssl CLI."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def fresh_tls(monkeypatch: pytest.MonkeyPatch) -> None:
    """The client loads its trust store once per process; this test gets its own load (of
    SSL_CERT_FILE, say), and the tests after it the one they had."""
    monkeypatch.setattr(remote_http, "_tls", None)


def server_tls(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context
