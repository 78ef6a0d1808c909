"""The OpenAI-compatible HTTP API over one :class:`ModelHost` (Starlette routes).

Every request is treated as hostile: its body is read up to a limit, its JSON checked
against the request models, its key compared in constant time; anything wrong becomes an
OpenAI error object with its status, never a traceback. Streamed answers are server-sent
events ending with ``data: [DONE]``; a client that goes away cancels its sequence.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from amalia_local.engine import Engine, SamplingOptions, StopReason
from amalia_local.engine.batch import Sequence, SequenceRequest
from amalia_local.errors import AmaliaError, ContextOverflowError, QueueFullError
from amalia_local.server import errors
from amalia_local.server.host import ModelHost
from amalia_local.server.prompts import chat_prompt, tokenize
from amalia_local.server.schemas import (
    ChatCompletionRequest,
    CompletionRequest,
    ResponseFormat,
)

log = logging.getLogger("amalia.server")

# A chat with a long document still fits; a 100 MB body does not reach the parser.
DEFAULT_MAX_BODY = 4 * 1024 * 1024
RETRY_AFTER_S = 2
# Streamed text reaches clients at most this often (20 times a second reads as live).
WAKE_INTERVAL_S = 0.05
# How often a non-streamed request checks that its client is still there.
DISCONNECT_POLL_S = 0.25

_FINISH = {StopReason.END: "stop", StopReason.LENGTH: "length", StopReason.CANCELLED: "stop"}


@dataclass(frozen=True)
class ServerOptions:
    api_key: str | None = None
    max_body: int = DEFAULT_MAX_BODY


def build_app(host: ModelHost, options: ServerOptions) -> Starlette:
    api = _API(host, options)
    routes = [
        Route("/health", api.health, methods=["GET"]),
        Route("/v1/models", api.models, methods=["GET"]),
        Route("/v1/chat/completions", api.chat_completions, methods=["POST"]),
        Route("/v1/completions", api.completions, methods=["POST"]),
    ]
    app = Starlette(routes=routes, exception_handlers={404: _not_found, 405: _not_allowed})
    app.add_exception_handler(Exception, _unexpected)
    return app


async def _not_found(_request: Request, _exc: Exception) -> Response:
    return errors.APIError(404, "No such endpoint.", code="not_found").response()


async def _not_allowed(_request: Request, _exc: Exception) -> Response:
    return errors.APIError(405, "Method not allowed.", code="method_not_allowed").response()


async def _unexpected(_request: Request, exc: Exception) -> Response:
    log.error("internal error: %s: %s", type(exc).__name__, exc)
    return errors.internal("Internal server error.").response()


class _Channel:
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


class _API:
    def __init__(self, host: ModelHost, options: ServerOptions) -> None:
        self.host = host
        self.options = options
        self._key = options.api_key.encode("utf-8") if options.api_key else None

    # --- endpoints ------------------------------------------------------------------------
    async def health(self, _request: Request) -> Response:
        return JSONResponse({"status": "ok", **self.host.status()})

    async def models(self, request: Request) -> Response:
        try:
            self._authorize(request)
        except errors.APIError as exc:
            return exc.response()
        created = int(time.time())
        model = {"id": self.host.name, "object": "model", "created": created, "owned_by": "local"}
        return JSONResponse({"object": "list", "data": [model]})

    async def chat_completions(self, request: Request) -> Response:
        try:
            self._authorize(request)
            body = await self._parse(request, ChatCompletionRequest)
            assert isinstance(body, ChatCompletionRequest)
            self._check_model(body.model)
            grammar = _grammar(body.response_format)
            messages = body.messages

            def build(engine: Engine, _n_ctx: int) -> SequenceRequest:
                return _sequence_request(body, chat_prompt(engine, messages), grammar)

            return await self._answer(request, body, build, chat=True)
        except errors.APIError as exc:
            return exc.response()

    async def completions(self, request: Request) -> Response:
        try:
            self._authorize(request)
            body = await self._parse(request, CompletionRequest)
            assert isinstance(body, CompletionRequest)
            self._check_model(body.model)
            prompt = body.prompt_text()
            if not prompt:
                raise errors.bad_request("The prompt is empty.", param="prompt")

            def build(engine: Engine, _n_ctx: int) -> SequenceRequest:
                return _sequence_request(body, tokenize(engine, prompt), None)

            return await self._answer(request, body, build, chat=False)
        except errors.APIError as exc:
            return exc.response()

    # --- the edge -------------------------------------------------------------------------
    def _authorize(self, request: Request) -> None:
        if self._key is None:
            return
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        given = token.strip().encode("utf-8") if scheme.lower() == "bearer" else b""
        if not hmac.compare_digest(given, self._key):
            raise errors.unauthorized()

    async def _parse(self, request: Request, model: type[BaseModel]) -> BaseModel:
        limit = self.options.max_body
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            raise errors.too_large(limit)
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise errors.too_large(limit)
            chunks.append(chunk)
        try:
            payload = json.loads(b"".join(chunks))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise errors.bad_request(f"The body is not valid JSON: {exc}") from None
        if not isinstance(payload, dict):
            raise errors.bad_request("The body must be a JSON object.")
        try:
            return model.model_validate(payload)
        except ValidationError as exc:
            first = exc.errors()[0]
            param = ".".join(str(p) for p in first["loc"]) or None
            message = f"{param}: {first['msg']}" if param else first["msg"]
            if first["type"] == "extra_forbidden":
                message = f"Unknown field '{param}': this server does not support it."
            raise errors.bad_request(message, param=param) from None

    def _check_model(self, name: str) -> None:
        if name != self.host.name:
            raise errors.model_not_found(name, self.host.name)

    # --- answering ------------------------------------------------------------------------
    async def _answer(
        self,
        request: Request,
        body: ChatCompletionRequest | CompletionRequest,
        build: Callable[[Engine, int], SequenceRequest],
        *,
        chat: bool,
    ) -> Response:
        channel = _Channel()
        try:
            sequence = await run_in_threadpool(self.host.submit, build, channel.sink)
        except ContextOverflowError as exc:
            raise errors.context_exceeded(
                int(exc.params.get("needed", 0)), int(exc.params.get("n_ctx", 0))
            ) from None
        except QueueFullError:
            raise errors.queue_full(RETRY_AFTER_S) from None
        except AmaliaError as exc:  # a template that refuses these messages, a failed load
            raise errors.bad_request(str(exc)) from None
        reply = _Reply(body, self.host.name, chat)
        if body.stream:
            return StreamingResponse(
                _stream(channel, sequence, reply, body.include_usage),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            )
        return await _collect(request, channel, sequence, reply)


class _Reply:
    """Builds the response objects of one answer (plain or streamed chunks)."""

    def __init__(self, body: ChatCompletionRequest | CompletionRequest, model: str, chat: bool):
        self.chat = chat
        self.model = model
        self.id = ("chatcmpl-" if chat else "cmpl-") + uuid.uuid4().hex
        self.created = int(time.time())
        self.echo = body.prompt_text() if isinstance(body, CompletionRequest) and body.echo else ""

    def usage(self, sequence: Sequence) -> dict[str, int]:
        stats = sequence.stats
        prompt, completion = stats.prompt_tokens, stats.generated_tokens
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }

    def timings(self, sequence: Sequence) -> dict[str, float]:
        """llama-server's ``timings`` (same names): how fast this answer was decoded."""
        stats = sequence.stats
        return {
            "prompt_n": stats.prompt_tokens_evaluated,
            "prompt_ms": round(stats.prompt_seconds * 1000, 3),
            "predicted_n": stats.sampled_tokens,
            "predicted_ms": round(stats.generation_seconds * 1000, 3),
            "predicted_per_second": round(stats.generation_tokens_per_second, 3),
        }

    def whole(self, text: str, sequence: Sequence) -> dict[str, Any]:
        finish = _FINISH[sequence.stats.stop_reason]
        if self.chat:
            choice: dict[str, Any] = {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": finish,
                "logprobs": None,
            }
        else:
            choice = {"index": 0, "text": self.echo + text, "finish_reason": finish}
            choice["logprobs"] = None
        return {
            "id": self.id,
            "object": "chat.completion" if self.chat else "text_completion",
            "created": self.created,
            "model": self.model,
            "choices": [choice],
            "usage": self.usage(sequence),
            "timings": self.timings(sequence),
        }

    def chunk(
        self, text: str | None, finish: str | None = None, *, first: bool = False
    ) -> dict[str, Any]:
        if self.chat:
            delta: dict[str, Any] = {"role": "assistant", "content": ""} if first else {}
            if text:
                delta["content"] = text
            choice: dict[str, Any] = {"index": 0, "delta": delta, "finish_reason": finish}
        else:
            choice = {"index": 0, "text": text or "", "finish_reason": finish, "logprobs": None}
        return {
            "id": self.id,
            "object": "chat.completion.chunk" if self.chat else "text_completion",
            "created": self.created,
            "model": self.model,
            "choices": [choice],
        }


def _event(payload: dict[str, Any]) -> str:
    return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"


async def _stream(
    channel: _Channel, sequence: Sequence, reply: _Reply, include_usage: bool
) -> AsyncIterator[str]:
    """Server-sent events; leaving early (the client went away) cancels the sequence."""
    try:
        if reply.chat:
            yield _event(reply.chunk(None, first=True))
        elif reply.echo:
            yield _event(reply.chunk(reply.echo))
        while (item := await channel.next()) is not None:
            yield _event(reply.chunk(item))
        if sequence.error is not None:
            log.error("generation failed: %s", sequence.error)
            yield _event(errors.internal("Generation failed.").body())
            return
        last = reply.chunk(None, _FINISH[sequence.stats.stop_reason])
        last["usage"] = reply.usage(sequence)  # usage in every reply, streamed or not
        last["timings"] = reply.timings(sequence)
        yield _event(last)
        if include_usage:
            final = reply.chunk(None)
            final["choices"] = []
            final["usage"] = reply.usage(sequence)
            yield _event(final)
        yield "data: [DONE]\n\n"
    finally:
        sequence.cancel()  # a no-op once it has ended


async def _collect(
    request: Request, channel: _Channel, sequence: Sequence, reply: _Reply
) -> Response:
    parts: list[str] = []
    try:
        while True:
            try:
                item = await asyncio.wait_for(channel.next(), DISCONNECT_POLL_S)
            except asyncio.TimeoutError:
                if await request.is_disconnected():
                    sequence.cancel()
                    return Response(status_code=499)
                continue
            if item is None:
                break
            parts.append(item)
    finally:
        sequence.cancel()
    if sequence.error is not None:
        log.error("generation failed: %s", sequence.error)
        return errors.internal("Generation failed.").response()
    return JSONResponse(reply.whole("".join(parts), sequence))


def _sequence_request(
    body: ChatCompletionRequest | CompletionRequest, tokens: list[int], grammar: str | None
) -> SequenceRequest:
    sampling = SamplingOptions(
        temperature=body.temperature,
        top_p=body.top_p,
        top_k=body.top_k,
        min_p=body.min_p,
        repeat_penalty=body.repeat_penalty,
        max_tokens=body.token_limit(),
        seed=body.seed,
    )
    return SequenceRequest(
        tokens=tokens,
        sampling=sampling,
        grammar=grammar,
        stop=body.stops(),
        frequency_penalty=body.frequency_penalty,
        presence_penalty=body.presence_penalty,
    )


def _grammar(response_format: ResponseFormat | None) -> str | None:
    from amalia_local.engine.grammar import GrammarError, json_grammar, schema_grammar

    if response_format is None or response_format.type == "text":
        return None
    if response_format.type == "json_object":
        return json_grammar()
    if response_format.json_schema is None:
        raise errors.bad_request(
            "response_format json_schema needs a 'json_schema' object.",
            param="response_format.json_schema",
        )
    try:
        return schema_grammar(response_format.json_schema.schema_)
    except GrammarError as exc:
        raise errors.bad_request(
            f"Unsupported JSON schema: {exc}", param="response_format.json_schema"
        ) from None
