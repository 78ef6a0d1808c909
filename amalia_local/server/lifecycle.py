"""One generation request's life on the event loop, the same for OpenAI's routes and
Ollama's: submitted to the host (its failures mapped to error objects), its text carried
from the decode thread by a :class:`Channel`, read whole while watching for the client
to go away, and judged at the end (the client left, or the generation failed).

The shapes differ per API (server-sent events or NDJSON, OpenAI's or Ollama's objects);
app.py and ollama.py build those, around these steps.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from amalia_local.engine import Engine, StopReason
from amalia_local.engine.batch import GeneratorFailed, Sequence, SequenceRequest
from amalia_local.engine.grammar import GrammarError
from amalia_local.errors import AmaliaError, ContextOverflowError, QueueFullError
from amalia_local.server import errors
from amalia_local.server.host import ModelHost
from amalia_local.server.prompts import Memos

log = logging.getLogger(__name__)

RETRY_AFTER_S = 2
# Streamed text reaches clients at most this often (20 times a second reads as live).
WAKE_INTERVAL_S = 0.05

Builder = Callable[[Engine, int, Memos], SequenceRequest]
# The error for a prompt beyond the context: (tokens needed, context per request).
Overflow = Callable[[int, int], errors.APIError]


class Channel:
    """Carries a sequence's text from the decode thread to the event loop.

    The loop is woken at most every ``WAKE_INTERVAL_S`` (and at the end); text that
    arrives in between is sent as one chunk. Waking it per token costs a single stream
    half its speed on two cores: the loop's thread then competes with llama.cpp's own
    threads after every token. The chat hands text to its UI on the same principle.
    """

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._lock = threading.Lock()
        self._parts: list[str] = []
        self._ended = False
        self._scheduled = False
        self._last_wake = 0.0
        self._ready = asyncio.Event()

    def sink(self, item: str | None) -> None:
        now = time.monotonic()
        with self._lock:
            if item is None:
                self._ended = True
            else:
                self._parts.append(item)
            if self._scheduled:
                return
            if item is not None and now - self._last_wake < WAKE_INTERVAL_S:
                return  # a later token (or the end) wakes the loop
            self._scheduled = True
            self._last_wake = now
        # The loop is gone only while the server shuts down; nobody is listening then.
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(self._ready.set)

    async def next(self) -> str | None:
        """The text since the last call; ``None`` once the sequence has ended."""
        while True:
            with self._lock:
                if self._parts:
                    text = "".join(self._parts)
                    self._parts.clear()
                    return text
                if self._ended:
                    return None
                # Nothing pending: the next sink() schedules a wake-up, none is lost.
                self._ready.clear()
                self._scheduled = False
            await self._ready.wait()


async def submit(host: ModelHost, build: Builder, overflow: Overflow) -> tuple[Sequence, Channel]:
    """Queue the request ``build`` makes (in a worker: templating and tokenizing take a
    while); what goes wrong is the client's error object, or the server's 503."""
    channel = Channel()
    try:
        sequence = await run_in_threadpool(host.submit, build, channel.sink)
    except ContextOverflowError as exc:
        raise overflow(int(exc.params.get("needed", 0)), int(exc.params.get("n_ctx", 0))) from None
    except QueueFullError:
        raise errors.queue_full(RETRY_AFTER_S) from None
    except GeneratorFailed as exc:
        raise errors.unavailable(str(exc.params.get("reason", ""))) from None
    except GrammarError as exc:
        raise errors.invalid_schema(exc) from None
    except AmaliaError as exc:  # a template that refuses these messages, a failed load
        raise errors.bad_request(str(exc)) from None
    return sequence, channel


async def watch_disconnect(request: Request, sequence: Sequence) -> None:
    """Cancel ``sequence`` as soon as the client goes away (the body is already read, so
    the next ASGI message is the disconnect)."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            sequence.cancel()
            return


async def read_all(request: Request, channel: Channel, sequence: Sequence) -> str:
    """The whole answer of a request not streamed; a client that leaves cancels it."""
    parts: list[str] = []
    watcher = asyncio.create_task(watch_disconnect(request, sequence))
    try:
        while (item := await channel.next()) is not None:
            parts.append(item)
    finally:
        watcher.cancel()
        sequence.cancel()
    return "".join(parts)


def failure(sequence: Sequence) -> errors.APIError | None:
    """Why an ended sequence has no answer to send, logged once: the client went away
    (499, which nobody reads), or the generation failed (500); None if it has one."""
    if sequence.stats.stop_reason is StopReason.CANCELLED and sequence.error is None:
        log.warning("client went away; its request was cancelled")
        return errors.client_gone()
    if sequence.error is not None:
        log.error("generation failed: %s", sequence.error)
        return errors.internal("Generation failed.")
    return None
