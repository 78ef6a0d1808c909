"""The ``--endpoint`` client against servers that answer exactly what each test scripts.

Real servers are covered elsewhere (``amalia serve`` in test_client_without_llama.py,
llama-cpp-python's in tests/tui/test_endpoint_chat.py); here the client meets what they
rarely do on demand: chunks cut anywhere, bodies that end with the connection, every
error shape, a stream that breaks, a cancel, and TLS with a certificate nobody signed.
"""

from __future__ import annotations

import socket
import threading
import time

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
from amalia_local.i18n import Translator
from amalia_local.remote.client import CancelEvent, Endpoint

SSE = {"Content-Type": "text/event-stream"}
CHUNKED = {**SSE, "Transfer-Encoding": "chunked"}
SAMPLING = SamplingOptions(temperature=0.0, max_tokens=16)


def _stream(url: str, cancel: CancelEvent | None = None) -> tuple[list[str], ReplyStats]:
    stats = ReplyStats()
    chunks = Endpoint(url).stream_chat(
        "m", [{"role": "user", "content": "Olá"}], SAMPLING, stats, cancel
    )
    return list(chunks), stats


def _line(error: RemoteError) -> str:
    return Translator("en").t(error.key, **error.params)


def test_a_chunked_stream_cut_anywhere_reads_as_its_events():
    body = (
        event("Olá, ")
        + b": a comment line, ignored\r\n\r\n"
        + event("aç€!")
        + event(finish="length")
        + event(usage={"prompt_tokens": 7, "completion_tokens": 2})
        + b"data: [DONE]\n\n"
    )

    def script(handler: Handler) -> None:
        send_head(handler, 200, CHUNKED)
        # Three bytes a chunk: events, lines and the UTF-8 of ç and € all cut in two.
        for i in range(0, len(body), 3):
            send_chunk(handler, body[i : i + 3])
        send_chunk(handler, b"")

    with scripted_server(script) as server:
        chunks, stats = _stream(server.url)
        method, path, _, sent = server.requests[0]
    assert "".join(chunks) == "Olá, aç€!"
    assert stats.stop_reason is StopReason.LENGTH
    assert (stats.prompt_tokens, stats.generated_tokens) == (7, 2)
    assert (method, path) == ("POST", "/v1/chat/completions")
    assert sent["stream"] is True and sent["max_tokens"] == 16 and sent["temperature"] == 0.0
    assert sent["messages"] == [{"role": "user", "content": "Olá"}]


def test_a_body_that_ends_with_the_connection_and_a_key_as_bearer():
    def script(handler: Handler) -> None:
        if handler.path.endswith("/models"):
            body = b'{"data": [{"id": "amalia"}, {"id": "other"}]}'
            send_head(handler, 200, {"Content-Type": "application/json"})
        else:
            body = event("tudo ") + event("bem") + b"data: [DONE]\n\n"
            send_head(handler, 200, SSE)
        handler.wfile.write(body)  # no length, no chunks: the end is the close

    with scripted_server(script) as server:
        endpoint = Endpoint(server.url + "/v1/", api_key="k3y")
        assert endpoint.models() == ["amalia", "other"]
        stats = ReplyStats()
        text = "".join(endpoint.stream_chat("amalia", [], SAMPLING, stats))
        headers = [r[2] for r in server.requests]
    assert text == "tudo bem"
    assert all(h["Authorization"] == "Bearer k3y" for h in headers)
    assert headers[0]["Host"] == server.url.removeprefix("http://")


@pytest.mark.parametrize(
    ("status", "payload", "key", "said"),
    [
        (401, {"error": {"message": "bad key"}}, "error.endpoint_auth", "refused the API key"),
        (
            400,
            {"error": {"message": "9000 tokens > 4096", "code": "context_length_exceeded"}},
            "error.endpoint_context",
            "9000 tokens > 4096",
        ),
        (500, {"detail": "the GPU fell over"}, "error.endpoint_status", "(500): the GPU fell"),
        (503, {"error": "busy"}, "error.endpoint_status", "(503): busy"),
    ],
)
def test_error_statuses_become_their_errors(status, payload, key, said):
    answer = scripted_server(lambda h: send_json(h, status, payload))
    with answer as server, pytest.raises(RemoteError) as raised:
        _stream(server.url)
    assert raised.value.key == key
    assert said in _line(raised.value)


def test_a_status_without_a_json_body_says_its_reason():
    def script(handler: Handler) -> None:
        send_head(handler, 502, {"Content-Length": "9"})
        handler.wfile.write(b"<html/>\n\n")

    with scripted_server(script) as server, pytest.raises(RemoteError) as raised:
        Endpoint(server.url).models()
    assert raised.value.key == "error.endpoint_status"
    assert "(502): Bad Gateway" in _line(raised.value)


@pytest.mark.parametrize(
    "body",
    [b"not json", b'{"models": []}', b'[{"id": 1}]', b'{"data": [7]}'],
)
def test_a_models_list_that_is_not_one_is_a_bad_answer(body):
    def script(handler: Handler) -> None:
        send_head(handler, 200, {"Content-Length": str(len(body))})
        handler.wfile.write(body)

    with scripted_server(script) as server, pytest.raises(RemoteError) as raised:
        Endpoint(server.url).models()
    assert raised.value.key == "error.endpoint_bad_answer"


def test_an_error_event_or_broken_json_in_the_stream_is_raised():
    def error_event(handler: Handler) -> None:
        send_head(handler, 200, CHUNKED)
        send_chunk(handler, event("Olá") + b'data: {"error": {"message": "out of memory"}}\n\n')
        send_chunk(handler, b"")

    with scripted_server(error_event) as server, pytest.raises(RemoteError) as raised:
        _stream(server.url)
    assert "(stream): out of memory" in _line(raised.value)

    def broken(handler: Handler) -> None:
        send_head(handler, 200, CHUNKED)
        send_chunk(handler, b"data: {not json\n\n")
        send_chunk(handler, b"")

    with scripted_server(broken) as server, pytest.raises(RemoteError) as raised:
        _stream(server.url)
    assert raised.value.key == "error.endpoint_bad_answer"


def test_a_stream_broken_in_the_middle_is_one_error_not_a_short_answer():
    def script(handler: Handler) -> None:
        send_head(handler, 200, CHUNKED)
        send_chunk(handler, event("Olá"))
        handler.wfile.write(b"40\r\nonly a few bytes of a 64-byte chunk")  # then the close

    with scripted_server(script) as server, pytest.raises(RemoteError) as raised:
        _stream(server.url)
    assert raised.value.key == "error.endpoint_unreachable"
    assert "closed the connection in the middle of its answer" in _line(raised.value)
    in_pt = Translator("pt").t(raised.value.key, **raised.value.params)
    assert "o servidor fechou a ligação a meio da resposta" in in_pt  # the reason too


def test_nobody_listening_is_unreachable():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(RemoteError) as raised:
        Endpoint(f"http://127.0.0.1:{port}").models()
    assert raised.value.key == "error.endpoint_unreachable"
    assert "refused" in _line(raised.value).lower()


def test_a_password_in_the_address_is_not_shown_in_the_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(RemoteError) as raised:
        Endpoint(f"http://maria:s3gredo@127.0.0.1:{port}/v1").models()
    line = _line(raised.value)
    assert "s3gredo" not in line and f"http://127.0.0.1:{port}/v1" in line


def test_cancel_closes_the_connection_so_the_server_stops():
    """Esc in the chat, Ctrl-C in ``run``: the server must learn it, from the socket."""
    server_saw: list[str] = []
    sent = threading.Event()

    def script(handler: Handler) -> None:
        send_head(handler, 200, CHUNKED)
        try:
            for _ in range(600):  # a minute of tokens, unless the client goes away
                send_chunk(handler, event("palavra "))
                sent.set()
                time.sleep(0.1)
        except OSError as exc:  # broken pipe, connection reset: the client left
            server_saw.append(type(exc).__name__)
            return
        server_saw.append("finished")

    cancel = CancelEvent()
    stats = ReplyStats()
    with scripted_server(script) as server:
        chunks = Endpoint(server.url).stream_chat("m", [], SAMPLING, stats, cancel)
        assert next(chunks) == "palavra "
        # From another thread, as the chat's Esc and run's Ctrl-C do, while the reader waits.
        threading.Timer(0.2, cancel.set).start()
        rest = list(chunks)
        deadline = time.monotonic() + 30
        while not server_saw and time.monotonic() < deadline:
            time.sleep(0.05)
    assert stats.stop_reason is StopReason.CANCELLED
    assert len(rest) < 20
    assert server_saw and server_saw[0] != "finished"


# --- TLS --------------------------------------------------------------------------------
def test_https_with_an_unsigned_certificate_is_refused(self_signed, fresh_tls):
    tls = scripted_server(models("amalia"), server_tls(*self_signed))
    with tls as server, pytest.raises(RemoteError) as raised:
        Endpoint(server.url).models()
    assert raised.value.key == "error.endpoint_unreachable"
    assert "certificate" in _line(raised.value).lower()


def test_https_with_a_trusted_certificate_streams(self_signed, fresh_tls, monkeypatch):
    """The system's trust store is used (here extended the OpenSSL way, SSL_CERT_FILE)."""
    monkeypatch.setenv("SSL_CERT_FILE", str(self_signed[0]))

    def script(handler: Handler) -> None:
        send_head(handler, 200, CHUNKED)
        send_chunk(handler, event("seguro") + b"data: [DONE]\n\n")
        send_chunk(handler, b"")

    with scripted_server(script, server_tls(*self_signed)) as server:
        chunks, _ = _stream(server.url)
    assert chunks == ["seguro"]


def test_run_against_an_unsigned_certificate_is_one_line(amalia, self_signed):
    with scripted_server(models("amalia"), server_tls(*self_signed)) as server:
        result = amalia("run", "--endpoint", server.url, "Olá", "--no-save")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"amalia: cannot reach the server at {server.url}")
    assert "certificate" in result.stderr.lower()


def test_run_with_a_model_the_server_lacks_asks_nothing_of_it(amalia):
    """The model list comes before the question, not beside it: some servers (llama-cpp-
    python's) answer any name with their own model, and one asked a question for a wrong
    name generates for it, holding its only model busy, however soon the client leaves
    (tried: it held that server for over 30 s in the test suite)."""
    with scripted_server(models("amalia", "eurollm")) as server:
        result = amalia("run", "--endpoint", server.url, "--model", "gpt-4", "Olá")
        asked = [(r[0], r[1]) for r in server.requests]
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"amalia: the server at {server.url} has no model 'gpt-4'; it has: amalia, eurollm\n"
    )
    assert asked == [("GET", "/v1/models")]
