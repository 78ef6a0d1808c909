"""The HTTP under the ``--endpoint`` client (issue 26): what http.client gets right and a
hand-written client did not, each against a server on 127.0.0.1 that does it on purpose.

Proxies from the environment (and NO_PROXY around them), interim 1xx answers, a chunked
body whose last CRLF never comes, paths and hosts as the wire wants them, credentials in
the address, one trust store per process, and Esc over https while the answer streams.
"""

from __future__ import annotations

import base64
import contextlib
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest
from scripted_server import (
    Handler,
    event,
    models,
    scripted_server,
    send_chunk,
    send_head,
    send_json,
    server_tls,
)

from amalia_local.engine.options import SamplingOptions
from amalia_local.engine.stats import ReplyStats, StopReason
from amalia_local.errors import RemoteError
from amalia_local.remote import http
from amalia_local.remote.client import CancelEvent, Endpoint

PROXY_VARIABLES = ("http_proxy", "https_proxy", "no_proxy", "all_proxy")
CHUNKED = {"Content-Type": "text/event-stream", "Transfer-Encoding": "chunked"}
SAMPLING = SamplingOptions(temperature=0.0, max_tokens=16)


@pytest.fixture
def environ(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No proxy setting from the machine running the tests: each test sets its own."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    return monkeypatch


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Proxy:
    """An HTTP proxy on 127.0.0.1 that records each request's head, then sends everything
    on to ``upstream`` whatever host the request names: a ``CONNECT`` is answered 200 and
    becomes a tunnel, any other request is forwarded as it came (its absolute URI too)."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.heads: list[list[str]] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        head = b""
        while not head.endswith(b"\r\n\r\n"):  # a byte at a time: nothing read past it
            byte = client.recv(1)
            if not byte:
                client.close()
                return
            head += byte
        lines = head.decode("latin-1").split("\r\n")[:-2]
        self.heads.append(lines)
        upstream = socket.create_connection(self.upstream)
        if lines[0].startswith("CONNECT "):
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        else:
            upstream.sendall(head)
        pipes = [
            threading.Thread(target=_pipe, args=(client, upstream), daemon=True),
            threading.Thread(target=_pipe, args=(upstream, client), daemon=True),
        ]
        for pipe in pipes:
            pipe.start()
        for pipe in pipes:
            pipe.join()
        client.close()
        upstream.close()

    def header(self, index: int, name: str) -> str | None:
        for line in self.heads[index][1:]:
            key, _, value = line.partition(":")
            if key.strip().lower() == name.lower():
                return value.strip()
        return None


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)


@contextlib.contextmanager
def proxy_to(server_url: str) -> Iterator[Proxy]:
    port = int(server_url.rsplit(":", 1)[1])
    proxy = Proxy(("127.0.0.1", port))
    try:
        yield proxy
    finally:
        proxy.close()


# --- proxies ----------------------------------------------------------------------------
@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy"])
def test_http_goes_through_the_proxy_the_environment_names(environ, variable):
    """An absolute-URI request to the proxy, its credentials as Proxy-Authorization, and
    the server's host (unresolvable here: only the proxy could reach it) IDNA-encoded."""
    with scripted_server(models("amalia")) as server, proxy_to(server.url) as proxy:
        environ.setenv(variable, proxy.url.replace("://", "://rui:p%40ss@"))
        assert Endpoint("http://câmara.invalid:8000").models() == ["amalia"]
        seen_by_server = server.requests[0]
    ascii_host = "câmara.invalid".encode("idna").decode()
    assert ascii_host == "xn--cmara-3qa.invalid"
    assert proxy.heads[0][0] == f"GET http://{ascii_host}:8000/v1/models HTTP/1.1"
    assert proxy.header(0, "Host") == f"{ascii_host}:8000"
    assert proxy.header(0, "Proxy-Authorization") == _basic("rui", "p@ss")
    assert seen_by_server[1] == f"http://{ascii_host}:8000/v1/models"


@pytest.mark.parametrize("variable", ["HTTPS_PROXY", "https_proxy"])
def test_https_goes_through_the_proxy_in_a_connect_tunnel(
    environ, variable, self_signed, fresh_tls
):
    environ.setenv("SSL_CERT_FILE", str(self_signed[0]))

    def script(handler: Handler) -> None:
        send_head(handler, 200, CHUNKED)
        send_chunk(handler, event("pelo túnel") + b"data: [DONE]\n\n")
        send_chunk(handler, b"")

    with (
        scripted_server(script, server_tls(*self_signed)) as server,
        proxy_to(server.url) as proxy,
    ):
        environ.setenv(variable, proxy.url.replace("://", "://rui:segredo@"))
        stats = ReplyStats()
        text = "".join(Endpoint(server.url).stream_chat("m", [], SAMPLING, stats))
        seen_by_server = server.requests[0]
    port = server.url.rsplit(":", 1)[1]
    assert text == "pelo túnel"
    assert proxy.heads[0][0] == f"CONNECT 127.0.0.1:{port} HTTP/1.0"
    assert proxy.header(0, "Proxy-Authorization") == _basic("rui", "segredo")
    # Inside the tunnel the request is the server's own, and the proxy's password stays out.
    assert seen_by_server[1] == "/v1/chat/completions"
    assert "Proxy-Authorization" not in seen_by_server[2]


@pytest.mark.parametrize(
    ("no_proxy", "direct"),
    [
        (None, False),
        ("127.0.0.1", True),
        ("example.org,127.0.0.1", True),
        ("*", True),
        ("example.org", False),
    ],
)
@pytest.mark.parametrize("case", [str.upper, str.lower])
def test_no_proxy_sends_its_hosts_around_the_proxy(environ, no_proxy, direct, case):
    environ.setenv(case("HTTP_PROXY"), f"http://127.0.0.1:{_closed_port()}")  # nobody there
    if no_proxy is not None:
        environ.setenv(case("NO_PROXY"), no_proxy)
    with scripted_server(models("amalia")) as server:
        if direct:
            assert Endpoint(server.url).models() == ["amalia"]
        else:  # the proxy was used: its closed port refused
            with pytest.raises(RemoteError, match="refused"):
                Endpoint(server.url).models()
            assert server.requests == []


@pytest.mark.parametrize(
    ("proxy", "said"),
    [
        ("socks5://ana:segredo@127.0.0.1:1080", "socks5://127.0.0.1:1080 is not an http:// proxy"),
        ("http://ana:segredo@[::1:3128", "the proxy 'http://[::1:3128' (from HTTPS_PROXY or"),
        ("http://ana:segredo@proxy:port", "the proxy 'http://proxy:port' (from HTTPS_PROXY or"),
    ],
)
def test_a_proxy_we_cannot_use_is_one_error_naming_it_without_its_password(environ, proxy, said):
    environ.setenv("HTTP_PROXY", proxy)
    with pytest.raises(RemoteError) as raised:
        Endpoint("http://127.0.0.1:8000").models()
    assert raised.value.key == "error.endpoint_unreachable"
    assert said in str(raised.value)
    assert "segredo" not in str(raised.value)


# --- the answer's head and body ---------------------------------------------------------
@pytest.mark.parametrize("interim", [100, 102, 103])
def test_an_interim_answer_is_not_taken_for_the_final_one(environ, interim):
    def script(handler: Handler) -> None:
        send_head(handler, interim, {"Link": "</style.css>; rel=preload"})
        send_json(handler, 200, {"data": [{"id": "amalia"}]})

    with scripted_server(script) as server:
        assert Endpoint(server.url).models() == ["amalia"]


def test_a_chunked_body_whose_last_crlf_never_comes_is_complete(environ):
    """The last chunk (``0``) says the body is whole; a server that closes before the
    empty line after it (the trailers' end) has not cut anything."""

    def script(handler: Handler) -> None:
        send_head(handler, 200, {**CHUNKED, "Content-Type": "application/json"})
        send_chunk(handler, b'{"data": [{"id": "amalia"}]}')
        handler.wfile.write(b"0\r\n")  # and the close, without the final CRLF

    with scripted_server(script) as server:
        assert Endpoint(server.url).models() == ["amalia"]

    def stream(handler: Handler) -> None:  # no [DONE] either: the body's end is the end
        send_head(handler, 200, CHUNKED)
        send_chunk(handler, event("fim") + event(finish="stop"))
        handler.wfile.write(b"0\r\n")

    with scripted_server(stream) as server:
        stats = ReplyStats()
        text = "".join(Endpoint(server.url).stream_chat("m", [], SAMPLING, stats))
    assert text == "fim"
    assert stats.stop_reason is StopReason.END


def test_a_length_that_never_arrives_is_a_cut_answer(environ):
    def script(handler: Handler) -> None:
        send_head(handler, 200, {"Content-Length": "100"})
        handler.wfile.write(b'{"data": [')  # then the close

    with scripted_server(script) as server, pytest.raises(RemoteError) as raised:
        Endpoint(server.url).models()
    assert "closed the connection in the middle of its answer" in str(raised.value)


# --- the address ------------------------------------------------------------------------
def test_a_path_with_spaces_and_accents_is_percent_encoded(environ):
    with scripted_server(models("amalia")) as server:
        base = server.url + "/os meus modelos/ação/já%20feito"
        assert Endpoint(base).models() == ["amalia"]
        path = server.requests[0][1]
    # UTF-8, percent-encoded; an escape already in the address is kept, not encoded again.
    assert path == "/os%20meus%20modelos/a%C3%A7%C3%A3o/j%C3%A1%20feito/v1/models"


def test_user_and_password_in_the_address_are_sent_as_basic_auth(environ):
    with scripted_server(models("amalia")) as server:
        address = server.url.replace("://", "://ana:s%C3%A9gredo@")
        assert Endpoint(address).models() == ["amalia"]
        assert Endpoint(address, api_key="k3y").models() == ["amalia"]
        sent = [r[2] for r in server.requests]
    assert sent[0]["Authorization"] == _basic("ana", "ségredo")
    assert sent[0]["Host"] == server.url.removeprefix("http://")  # no credentials in it
    assert sent[1]["Authorization"] == "Bearer k3y"  # --api-key is the one asked for


# --- TLS --------------------------------------------------------------------------------
def test_the_trust_store_is_loaded_once_per_process(environ, self_signed, fresh_tls, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(self_signed[0]))
    loads: list[ssl.SSLContext] = []
    create = ssl.create_default_context

    def counted(*args: object, **kwargs: object) -> ssl.SSLContext:
        loads.append(create(*args, **kwargs))  # type: ignore[arg-type]
        return loads[-1]

    monkeypatch.setattr(ssl, "create_default_context", counted)

    def script(handler: Handler) -> None:
        if handler.path.endswith("/models"):
            send_json(handler, 200, {"data": [{"id": "amalia"}]})
        else:
            send_head(handler, 200, CHUNKED)
            send_chunk(handler, event("ok") + b"data: [DONE]\n\n")
            send_chunk(handler, b"")

    with scripted_server(script, server_tls(*self_signed)) as server:
        endpoint = Endpoint(server.url)
        assert endpoint.models() == ["amalia"]
        assert "".join(endpoint.stream_chat("amalia", [], SAMPLING, ReplyStats())) == "ok"
        assert Endpoint(server.url).models() == ["amalia"]
        assert len(server.requests) == 3
    assert len(loads) == 1
    assert http.tls_context() is loads[0]


def test_certifi_is_a_fallback_only_for_an_empty_store(self_signed, fresh_tls, monkeypatch):
    certifi = pytest.importorskip("certifi")
    monkeypatch.setenv("SSL_CERT_FILE", str(self_signed[0]))
    monkeypatch.setenv("SSL_CERT_DIR", "/nonexistent")
    assert len(http.tls_context().get_ca_certs()) == 1  # the system's store alone

    monkeypatch.setattr(http, "_tls", None)
    monkeypatch.setenv("SSL_CERT_FILE", "/nonexistent/cert.pem")  # as on python.org's macOS
    bundled = ssl.create_default_context(cafile=certifi.where())
    assert len(http.tls_context().get_ca_certs()) == len(bundled.get_ca_certs()) > 0


def _endless(handler: Handler) -> None:
    """Tokens in bursts as fast as TLS takes them, then a pause, until the client goes
    away: an abort lands between two reads as often as inside one that waits."""
    send_head(handler, 200, CHUNKED)
    with contextlib.suppress(OSError):
        for i in range(1_000_000):
            send_chunk(handler, event(f"palavra{i} "))
            if i % 200 == 199:
                time.sleep(0.02)


def test_abort_under_https_from_another_thread_is_the_aborted_outcome_only(
    environ, self_signed, fresh_tls, monkeypatch
):
    """Esc while an answer streams over https: abort() runs on the UI's thread while the
    worker reads. Nothing may escape but :class:`http.Aborted`, in either thread (the
    hand-written client shut the TLS object down under the read: a ValueError, or the
    encrypted bytes still in the socket read as plain ones, "not valid HTTP")."""
    monkeypatch.setenv("SSL_CERT_FILE", str(self_signed[0]))
    escaped: list[BaseException] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: escaped.append(args.exc_value))
    outcomes: list[str] = []
    with scripted_server(_endless, server_tls(*self_signed)) as server:
        delays = [0.0, 0.001, 0.003, 0.01, 0.02, 0.03, 0.05, 0.08, 0.1, 0.15] * 2
        for delay in delays:
            response = http.request(
                "POST",
                server.url + "/v1/chat/completions",
                body=b"{}",
                connect_timeout=10,
                read_timeout=30,
            )
            pieces = response.iter_bytes()
            assert next(pieces)
            aborter = threading.Timer(delay, response.abort)
            aborter.start()
            try:
                for _ in pieces:
                    pass
            except http.HTTPError as exc:  # anything else fails the test as it is
                outcomes.append(f"{type(exc).__name__} {exc.key}")
            finally:
                aborter.join()
                response.close()
    assert escaped == []
    assert outcomes == ["Aborted http.aborted"] * len(delays)


def test_cancel_under_https_ends_the_answer_as_cancelled(
    environ, self_signed, fresh_tls, monkeypatch
):
    monkeypatch.setenv("SSL_CERT_FILE", str(self_signed[0]))
    cancel = CancelEvent()
    stats = ReplyStats()
    with scripted_server(_endless, server_tls(*self_signed)) as server:
        chunks = Endpoint(server.url).stream_chat("m", [], SAMPLING, stats, cancel)
        assert next(chunks) == "palavra0 "
        threading.Timer(0.1, cancel.set).start()
        list(chunks)  # ends: a million tokens would not
    assert stats.stop_reason is StopReason.CANCELLED


# --- start-up ---------------------------------------------------------------------------
LOADED = (
    "import sys\n"
    "import amalia_local.remote.client as client\n"
    "if len(sys.argv) > 1:\n"
    "    client.Endpoint(sys.argv[1]).models()\n"
    "print(sorted(m for m in {watched!r} if m in sys.modules))"
)


def test_http_client_is_imported_only_when_a_request_is_made():
    probe = LOADED.format(watched=("http.client", "ssl", "urllib.request"))
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"


@pytest.mark.skipif(sys.platform in ("darwin", "win32"), reason="proxies from system settings")
def test_without_proxy_variables_a_request_loads_no_more_than_http_client(environ):
    """urllib.request (5 ms: tempfile, hashlib...) only when a proxy may be set, and no
    "idna" codec (1 ms) for an ASCII host."""
    probe = LOADED.format(watched=("http.client", "urllib.request", "encodings.idna"))
    with scripted_server(models("amalia")) as server:
        result = subprocess.run(
            [sys.executable, "-c", probe, server.url],
            capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
    assert result.stdout.strip() == "['http.client']"
