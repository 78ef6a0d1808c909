"""An exception no route expected: a 500 in the route's error shape and one log line
naming where it was raised, never a traceback (failsafe.py).

The routes here raise on purpose, inside the same layers as ``amalia serve``'s: the
Starlette app, and a mounted sub-application with Ollama's 500 handler.
"""

from __future__ import annotations

import logging

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from amalia_local.server import ollama
from amalia_local.server.failsafe import Failsafe


async def boom(_request: Request) -> Response:
    raise RuntimeError("boom")


async def boom_later(_request: Request) -> Response:
    async def lines():
        yield "first\n"
        raise RuntimeError("boom in a stream")

    return StreamingResponse(lines())


def app() -> Starlette:
    api = Starlette(
        routes=[Route("/boom", boom)], exception_handlers={Exception: ollama._unexpected}
    )
    outer = Starlette(
        routes=[Route("/v1/boom", boom), Route("/v1/later", boom_later), Mount("/api", api)]
    )
    outer.add_middleware(Failsafe)
    return outer


@pytest.fixture
def client():
    # raise_server_exceptions: an exception that escapes the app fails the test
    with TestClient(app(), raise_server_exceptions=True) as client:
        yield client


def test_openai_routes_get_a_500_error_object(client, caplog):
    with caplog.at_level(logging.ERROR):
        response = client.get("/v1/boom")
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["type"] == "server_error" and error["code"] == "internal_error"
    (record,) = caplog.records
    assert record.exc_info is None
    message = record.getMessage()
    assert message.startswith("internal error: RuntimeError: boom (test_failsafe.py:")
    assert message.endswith(" in boom)")


def test_ollama_routes_get_ollamas_shape_and_one_line(client, caplog):
    with caplog.at_level(logging.ERROR):
        response = client.get("/api/boom")
    assert response.status_code == 500
    assert response.json() == {"error": "Internal server error."}
    assert len(caplog.records) == 1 and caplog.records[0].exc_info is None
    assert "RuntimeError: boom" in caplog.records[0].getMessage()


def test_a_stream_that_fails_ends_without_a_traceback(caplog):
    """What was sent stays sent and the response is left incomplete (the server then
    drops the connection, so the client knows the stream was cut); one line names the
    stream's own error, also where starlette wraps it in a task group's ExceptionGroup."""
    sent: list[dict] = []
    inner = app()

    async def recorded(scope, receive, send):
        async def record(message):
            sent.append(message)
            await send(message)

        await inner(scope, receive, record)

    with caplog.at_level(logging.ERROR), TestClient(recorded) as client:
        response = client.get("/v1/later")
    assert response.status_code == 200
    bodies = [m for m in sent if m["type"] == "http.response.body"]
    assert [m.get("body") for m in bodies if m.get("body")] == [b"first\n"]
    assert all(m.get("more_body") for m in bodies), "a cut stream must not look complete"
    assert [r.exc_info for r in caplog.records] == [None]
    message = caplog.records[0].getMessage()
    assert message.startswith("internal error: RuntimeError: boom in a stream (test_failsafe.py:")
