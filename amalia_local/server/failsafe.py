"""The last line of defence: an exception no route expected becomes a 500 with the
route's error object and one log line, never a traceback.

Starlette's own outermost layer answers an unexpected exception, then raises it again
so that the server logs it, which uvicorn does as "Exception in ASGI application" and a
whole traceback. Every client mistake is meant to end in a 4xx long before this point;
what reaches it is a bug, and the one line names the exception and where it was raised
(file, line, function), enough to find it without filling the log with a client's doing.
"""

from __future__ import annotations

import logging
import traceback
from pathlib import PurePath

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from amalia_local.server import errors

log = logging.getLogger(__name__)


class Failsafe:
    """ASGI middleware around the routes (inside the accounting, so that it counts the
    500 this sends)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception as caught:
            exc = cause(caught)
            log.error("internal error: %s: %s (%s)", type(exc).__name__, exc, raised_at(exc))
            if started:  # the status is sent (a stream, or an inner handler's 500): end it
                return
            response = errors.shaped(scope["path"], errors.internal("Internal server error."))
            await response(scope, receive, send)


def cause(exc: BaseException) -> BaseException:
    """The one exception inside single-member groups: starlette before 0.4x runs a
    stream in an anyio task group, whose ExceptionGroup would otherwise be all the log
    line says ("unhandled errors in a TaskGroup", raised in anyio)."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def raised_at(exc: BaseException) -> str:
    """``file.py:line in function`` of the frame that raised ``exc``."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "no frame"
    frame = frames[-1]
    return f"{PurePath(frame.filename).name}:{frame.lineno} in {frame.name}"
