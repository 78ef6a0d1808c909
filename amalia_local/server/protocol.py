"""uvicorn's HTTP/1.1 protocol with the guards a server left running needs.

- Headers must arrive within ``HEADER_TIMEOUT_S`` of the connection opening (or of the
  previous response on a kept-alive connection): a slowloris client, trickling header
  bytes or sending none, is closed instead of holding a connection forever. uvicorn has
  no such timeout of its own; its keep-alive timeout ends at the first byte received.
- At most ``max_connections`` open connections: beyond, a new one is closed at once,
  before anything is read (uvicorn's ``limit_concurrency`` still accepts it and answers).
- A request h11 cannot parse (a bad Content-Length, a malformed request line) gets an
  OpenAI error object, not uvicorn's plain-text 400.

Built on uvicorn's ``H11Protocol``: ``connection_made``, ``on_response_complete``,
``send_400_response``, ``conn``, ``cycle`` and ``transport`` are uvicorn internals, not
API; pyproject.toml bounds uvicorn to the versions tested for that reason.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger(__name__)

HEADER_TIMEOUT_S = 10.0
DEFAULT_MAX_CONNECTIONS = 256


class GuardedH11Protocol(H11Protocol):
    header_timeout_s = HEADER_TIMEOUT_S
    max_connections = DEFAULT_MAX_CONNECTIONS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None

    # BaseProtocol takes a BaseTransport; uvicorn's H11Protocol narrows it to Transport
    # (with the same ignore), and so does this override of it.
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            log.warning("connection refused: %d connections are open", self.max_connections)
            transport.abort()
            return
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_header_timer()

    def _arm_header_timer(self) -> None:
        self._disarm_header_timer()
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._headers_late)

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_late(self) -> None:
        self._header_timer = None
        waiting_for_headers = self.cycle is None or self.cycle.response_complete
        if waiting_for_headers and not self.transport.is_closing():
            if self.conn.their_state is h11.SEND_BODY or self.conn.their_state is h11.DONE:
                return  # a request started; the body has its own timeout (app.py)
            if self._partial_request():
                log.warning("connection closed: no complete headers in %gs", self.header_timeout_s)
            self.transport.close()

    def _partial_request(self) -> bool:
        """Whether the client sent part of a request (an idle kept-alive one did not)."""
        return bool(self.conn.trailing_data[0])

    def send_400_response(self, msg: str) -> None:
        body = json.dumps(
            {
                "error": {
                    "message": f"Malformed HTTP request ({msg.rstrip('.')}).",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": "bad_http_request",
                }
            }
        ).encode("ascii")
        log.warning("400 bad_http_request: %s", msg)
        event = h11.Response(
            status_code=400,
            headers=[
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
            reason=b"Bad Request",
        )
        try:
            self.transport.write(self.conn.send(event) or b"")
            self.transport.write(self.conn.send(h11.Data(data=body)) or b"")
            self.transport.write(self.conn.send(h11.EndOfMessage()) or b"")
        except h11.LocalProtocolError:  # h11 cannot answer in this state: just close
            pass
        self.transport.close()
