"""The OpenAI-compatible HTTP API over one :class:`ModelHost` (Starlette routes).

Every request is treated as hostile: its body is read up to a limit and a deadline, its
JSON parsed and checked against the request models off the event loop, its key compared
in constant time, a JSON schema bounded (schema_limits.py) and converted off the loop
within a time budget; anything wrong becomes an OpenAI error object with its status and
one log line, never a traceback. Streamed answers are server-sent events ending with
``data: [DONE]``; a client that goes away cancels its sequence, streamed or not.

The event loop never waits on the model: templating, tokenizing and grammar building run
in worker threads, and /health reads the host's figures without its lock. A request's
life (submitted, its text carried to the loop, the client watched) is lifecycle.py's and
its grammar request_grammar.py's, shared with Ollama's routes (ollama.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route

from amalia_local.engine import Engine, SamplingOptions, StopReason
from amalia_local.engine.batch import Sequence, SequenceRequest
from amalia_local.server import accounting, errors, fields, lifecycle
from amalia_local.server.audit import AuditLog
from amalia_local.server.failsafe import Failsafe
from amalia_local.server.host import ModelHost
from amalia_local.server.keys import Keyring
from amalia_local.server.logprob_format import chat_logprobs, completion_logprobs
from amalia_local.server.model_card import model_card
from amalia_local.server.prompts import Memos, chat_prompt, tokenize
from amalia_local.server.request_grammar import (
    GRAMMAR_BUDGET_S,
    GrammarSlot,
    check_grammar,
    response_grammar,
)
from amalia_local.server.schemas import (
    ChatCompletionRequest,
    CompletionRequest,
)
from amalia_local.server.tool_grammar import tools_grammar
from amalia_local.server.tool_output import Event, ToolReader
from amalia_local.server.tools import ToolPlan, tool_plan

log = logging.getLogger(__name__)

# A chat with a long document still fits; a 100 MB body does not reach the parser.
DEFAULT_MAX_BODY = 4 * 1024 * 1024
# A body must keep arriving: at most this long between two chunks, and all of it within
# BODY_TOTAL_S (a lying Content-Length or a trickling client holds nothing for long).
BODY_IDLE_S = 10.0
BODY_TOTAL_S = 60.0

_FINISH = {StopReason.END: "stop", StopReason.LENGTH: "length", StopReason.CANCELLED: "stop"}


@dataclass(frozen=True)
class ServerOptions:
    api_key: str | None = None
    max_body: int = DEFAULT_MAX_BODY
    body_idle_s: float = BODY_IDLE_S
    body_total_s: float = BODY_TOTAL_S
    grammar_budget_s: float = GRAMMAR_BUDGET_S
    # Named keys (--api-keys-file, with --api-key among them); None: api_key alone.
    keyring: Keyring | None = None
    audit: AuditLog | None = None  # --audit-log
    log_content: bool = False  # the audit log keeps what was asked and answered


def build_app(host: ModelHost, options: ServerOptions) -> Starlette:
    from amalia_local.server import ollama  # it builds on this module's helpers

    api = API(host, options)
    routes = [
        Route("/health", api.health, methods=["GET"]),
        Route("/v1/models", api.models, methods=["GET"]),
        Route("/v1/chat/completions", api.chat_completions, methods=["POST"]),
        Route("/v1/completions", api.completions, methods=["POST"]),
        # Ollama's API for the tools that speak only it (ollama.py).
        Route("/", ollama.root, methods=["GET"]),
        Mount("/api", app=ollama.build(api)),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={404: _not_found, 405: _not_allowed},
        lifespan=_warm_thread_pool,
    )
    # An exception no route expected: a 500 and one log line, no traceback (failsafe.py).
    app.add_middleware(Failsafe)
    # Keys, limits, the audit log and /metrics, around every route (accounting.py).
    accounting.install(
        app,
        lambda: host.status(),
        options.keyring or Keyring(single_key=options.api_key),
        options.audit,
        log_content=options.log_content,
        max_body=options.max_body,
    )
    return app


@contextlib.asynccontextmanager
async def _warm_thread_pool(_app: Starlette) -> AsyncIterator[None]:
    """The thread pool imports its machinery on first use, on the event loop: 50 ms in
    which /health waits, paid by the first request (found with a faulthandler watchdog
    on the loop). Paid here instead, before the port answers anything."""
    await run_in_threadpool(lambda: None)
    yield


async def _not_found(_request: Request, _exc: Exception) -> Response:
    return errors.APIError(404, "No such endpoint.", code="not_found").response()


async def _not_allowed(_request: Request, _exc: Exception) -> Response:
    return errors.APIError(405, "Method not allowed.", code="method_not_allowed").response()


def _refuse(exc: errors.APIError) -> Response:
    """The error object, and one log line saying what was refused (no traceback)."""
    level = logging.ERROR if exc.status >= 500 and exc.code != "queue_full" else logging.WARNING
    log.log(level, "%d %s: %s", exc.status, exc.code or exc.type, exc.message)
    return exc.response()


class API:
    def __init__(self, host: ModelHost, options: ServerOptions) -> None:
        self.host = host
        self.options = options
        self.grammars = GrammarSlot(options.grammar_budget_s)

    # --- endpoints ------------------------------------------------------------------------
    async def health(self, _request: Request) -> Response:
        failure = self.host.failure
        if failure is not None:
            return JSONResponse(
                {"status": "error", "error": failure, **self.host.status()}, status_code=503
            )
        return JSONResponse({"status": "ok", **self.host.status()})

    async def models(self, request: Request) -> Response:
        try:
            self.authorize(request)
        except errors.APIError as exc:
            return _refuse(exc)
        return JSONResponse({"object": "list", "data": [model_card(self.host)]})

    async def chat_completions(self, request: Request) -> Response:
        try:
            self.authorize(request)
            body = await self.parse(request, ChatCompletionRequest)
            assert isinstance(body, ChatCompletionRequest)
            self._check_model(body.model)
            plan = tool_plan(body)
            response_format = body.response_format
            if plan is not None:
                grammar = await self.grammars.convert(
                    lambda: tools_grammar(plan, response_grammar(response_format)), "tools"
                )
            else:
                grammar = await self.grammars.convert(lambda: response_grammar(response_format))
            messages = body.messages

            def build(engine: Engine, _n_ctx: int, memos: Memos) -> SequenceRequest:
                check_grammar(engine, grammar, "tools" if plan else None)
                text, tokens = chat_prompt(engine, messages, memos, plan)
                return _sequence_request(body, tokens, grammar, text, engine.vocab_size)

            return await self._answer(request, body, build, chat=True, tools=plan)
        except errors.APIError as exc:
            return _refuse(exc)

    async def completions(self, request: Request) -> Response:
        try:
            self.authorize(request)
            body = await self.parse(request, CompletionRequest)
            assert isinstance(body, CompletionRequest)
            self._check_model(body.model)
            prompt = body.prompt_text()
            if not prompt:
                raise errors.bad_request("The prompt is empty.", param="prompt")

            def build(engine: Engine, _n_ctx: int, _memos: Memos) -> SequenceRequest:
                return _sequence_request(
                    body, tokenize(engine, prompt), None, None, engine.vocab_size
                )

            return await self._answer(request, body, build, chat=False)
        except errors.APIError as exc:
            return _refuse(exc)

    # --- the edge -------------------------------------------------------------------------
    def authorize(self, request: Request) -> None:
        """The key was checked by the middleware (accounting.py), for every route."""
        if not accounting.authorized(request.scope):
            raise errors.unauthorized()

    async def parse(self, request: Request, model: type[BaseModel]) -> BaseModel:
        raw = await self._read_body(request)
        return await run_in_threadpool(_decode, raw, model, _SCREENS.get(model, _no_screen))

    async def _read_body(self, request: Request) -> bytes:
        """The body, refused beyond ``max_body`` bytes or when it stops arriving."""
        limit = self.options.max_body
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            raise errors.too_large(limit)
        chunks: list[bytes] = []
        size = 0
        deadline = time.monotonic() + self.options.body_total_s
        stream = request.stream().__aiter__()
        while True:
            wait = min(self.options.body_idle_s, deadline - time.monotonic())
            try:
                chunk = await asyncio.wait_for(stream.__anext__(), max(0.0, wait))
            except StopAsyncIteration:
                break
            except TimeoutError:
                raise errors.body_timeout(self.options.body_idle_s) from None
            except ClientDisconnect:
                raise errors.client_disconnected() from None
            size += len(chunk)
            if size > limit:
                raise errors.too_large(limit)
            chunks.append(chunk)
        return b"".join(chunks)

    def _check_model(self, name: str) -> None:
        if name != self.host.name:
            raise errors.model_not_found(name, self.host.name)

    # --- answering ------------------------------------------------------------------------
    async def _answer(
        self,
        request: Request,
        body: ChatCompletionRequest | CompletionRequest,
        build: Callable[[Engine, int, Memos], SequenceRequest],
        *,
        chat: bool,
        tools: ToolPlan | None = None,
    ) -> Response:
        sequence, channel = await lifecycle.submit(self.host, build, errors.context_exceeded)
        reply = _Reply(body, self.host.name, chat, tools)
        if body.stream:
            return StreamingResponse(
                _stream(channel, sequence, reply, body.include_usage),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            )
        return await _collect(request, channel, sequence, reply)


class _Reply:
    """Builds the response objects of one answer (plain or streamed chunks)."""

    def __init__(
        self,
        body: ChatCompletionRequest | CompletionRequest,
        model: str,
        chat: bool,
        tools: ToolPlan | None = None,
    ):
        self.chat = chat
        self.model = model
        self.id = ("chatcmpl-" if chat else "cmpl-") + uuid.uuid4().hex
        self.created = int(time.time())
        self.echo = body.prompt_text() if isinstance(body, CompletionRequest) and body.echo else ""
        # Tool calls are read out of the answer's text as it comes (tool_output.py).
        self.reader = ToolReader() if tools is not None and tools.calls else None
        self.logprobs = body.logprob_count() is not None
        self._logprobs_sent = 0
        self._text_offset = len(self.echo)

    def finish(self, sequence: Sequence) -> str:
        finish = _FINISH[sequence.stats.stop_reason]
        if finish == "stop" and self.reader is not None and self.reader.calls:
            return "tool_calls"
        return finish

    def logprob_part(self, sequence: Sequence, *, final: bool = False) -> dict[str, Any] | None:
        """The entries that arrived since the last part (all the rest when ``final``)."""
        if not self.logprobs:
            return None
        entries = sequence.logprobs[self._logprobs_sent :]
        if not entries and not final:
            return None
        self._logprobs_sent += len(entries)
        if self.chat:
            return chat_logprobs(entries)
        part = completion_logprobs(entries, self._text_offset)
        self._text_offset += sum(len(t) for t in part["tokens"])
        return part

    def pieces(self, text: str, sequence: Sequence) -> list[dict[str, Any]]:
        """The chunks for streamed text: content, or tool calls' names and arguments."""
        if self.reader is None:
            chunks = [self.chunk(text)]
        else:
            chunks = [self.event_chunk(event) for event in self.reader.feed(text)]
        logprobs = self.logprob_part(sequence) if chunks else None
        if logprobs is not None:
            chunks[0]["choices"][0]["logprobs"] = logprobs
        return chunks

    def ending(self, sequence: Sequence) -> list[dict[str, Any]]:
        """The chunks after the last text: what the reader held back, then the finish."""
        events = self.reader.finish() if self.reader is not None else []
        chunks = [self.event_chunk(event) for event in events]
        last = self.chunk(None, self.finish(sequence))
        logprobs = self.logprob_part(sequence)
        if logprobs is not None:
            last["choices"][0]["logprobs"] = logprobs
        return [*chunks, last]

    def event_chunk(self, event: Event) -> dict[str, Any]:
        assert self.reader is not None
        chunk = self.chunk(None)
        delta = chunk["choices"][0]["delta"]
        if event[0] == "content":
            delta["content"] = event[1]
        elif event[0] == "call":
            call = self.reader.calls[event[1]]
            entry = {"index": event[1], **call.as_dict()}
            entry["function"] = {"name": call.name, "arguments": ""}
            delta["tool_calls"] = [entry]
        else:
            delta["tool_calls"] = [{"index": event[1], "function": {"arguments": event[2]}}]
        return chunk

    def usage(self, sequence: Sequence) -> dict[str, int | dict[str, int]]:
        stats = sequence.stats
        prompt, completion = stats.prompt_tokens, stats.generated_tokens
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            # OpenAI's name for prompt tokens reused from the cache (not evaluated again).
            "prompt_tokens_details": {"cached_tokens": stats.prompt_tokens_cached},
        }

    def timings(self, sequence: Sequence) -> dict[str, float]:
        """llama-server's ``timings`` (same names): how fast this answer was decoded."""
        stats = sequence.stats
        return {
            "cache_n": stats.prompt_tokens_cached,
            "prompt_n": stats.prompt_tokens_evaluated,
            "prompt_ms": round(stats.prompt_seconds * 1000, 3),
            "predicted_n": stats.sampled_tokens,
            "predicted_ms": round(stats.generation_seconds * 1000, 3),
            "predicted_per_second": round(stats.generation_tokens_per_second, 3),
        }

    def whole(self, text: str, sequence: Sequence) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": text}
        if self.reader is not None:
            self.reader.feed(text)
            self.reader.finish()
            if self.reader.calls:
                message["content"] = self.reader.content or None
                message["tool_calls"] = [call.as_dict() for call in self.reader.calls]
        finish = self.finish(sequence)
        logprobs = self.logprob_part(sequence, final=True)
        if self.chat:
            choice: dict[str, Any] = {
                "index": 0,
                "message": message,
                "finish_reason": finish,
                "logprobs": logprobs,
            }
        else:
            choice = {"index": 0, "text": self.echo + text, "finish_reason": finish}
            choice["logprobs"] = logprobs
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
    channel: lifecycle.Channel, sequence: Sequence, reply: _Reply, include_usage: bool
) -> AsyncIterator[str]:
    """Server-sent events; leaving early (the client went away) cancels the sequence.

    A failure after the first byte cannot change the status any more: it is an error
    event, then ``[DONE]`` so clients stop reading.
    """
    try:
        if reply.chat:
            yield _event(reply.chunk(None, first=True))
        elif reply.echo:
            yield _event(reply.chunk(reply.echo))
        while (item := await channel.next()) is not None:
            for chunk in reply.pieces(item, sequence):
                yield _event(chunk)
        if sequence.error is not None:
            log.error("generation failed: %s", sequence.error)
            yield _event(errors.internal("Generation failed.").body())
            yield "data: [DONE]\n\n"
            return
        *held, last = reply.ending(sequence)
        for chunk in held:
            yield _event(chunk)
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
    request: Request, channel: lifecycle.Channel, sequence: Sequence, reply: _Reply
) -> Response:
    text = await lifecycle.read_all(request, channel, sequence)
    failed = lifecycle.failure(sequence)
    if failed is not None:
        return Response(status_code=499) if failed.status == 499 else failed.response()
    return JSONResponse(reply.whole(text, sequence))


def _sequence_request(
    body: ChatCompletionRequest | CompletionRequest,
    tokens: list[int],
    grammar: str | None,
    text: str | None,
    vocab_size: int,
) -> SequenceRequest:
    try:
        biases = body.token_biases()
    except ValueError as exc:
        raise errors.bad_request(str(exc), param="logit_bias") from None
    for token, _bias in biases:
        if token >= vocab_size:
            raise errors.bad_request(
                f"logit_bias names token {token}; this model's tokens are 0-{vocab_size - 1}.",
                param="logit_bias",
            )
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
        text=text,
        logit_bias=biases,
        logprobs=body.logprob_count(),
    )


# Where a lone surrogate could come from: an escape \uD800-\uDFFF, or the UTF-8 bytes of
# one (json.loads decodes bytes with "surrogatepass"). Valid pairs match too and only cost
# the full check; a body with no match cannot hold a lone surrogate.
_MAYBE_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]")


def _may_hold_surrogate(raw: bytes) -> bool:
    """The regex holds the GIL for 40 ms over 4 MB; a substring test (memchr speed) first
    lets the common body, with none of these prefixes, skip it."""
    prefixes = (b"\\ud", b"\\uD", b"\xed")
    return any(prefix in raw for prefix in prefixes) and bool(_MAYBE_SURROGATE.search(raw))


def _not_json(constant: str) -> Any:
    """NaN, Infinity and -Infinity: Python's parser takes them, JSON has no such values,
    and they would pass on into schemas, prompts and the audit log."""
    raise errors.bad_request(f"The body is not valid JSON: {constant} is not a JSON value.")


def _finite(text: str) -> float:
    """A number beyond a double (1e400) would be read as infinity: refused as NaN is."""
    value = float(text)
    if not math.isfinite(value):
        raise errors.bad_request(f"The body is not valid JSON: {text[:20]} is out of range.")
    return value


# OpenAI's fields refused by name (fields.py), for OpenAI's requests only: on Ollama's
# routes "n" or "best_of" is an unknown field like any other, not an OpenAI parameter.
_SCREENS: dict[type[BaseModel], Callable[[dict[str, Any]], None]] = {
    ChatCompletionRequest: fields.screen_chat,
    CompletionRequest: fields.screen_completion,
}


def _no_screen(_payload: dict[str, Any]) -> None:
    return None


def _decode(
    raw: bytes, model: type[BaseModel], screen: Callable[[dict[str, Any]], None]
) -> BaseModel:
    """Parse and validate a body (in a worker thread: 4 MB of JSON takes a while)."""
    try:
        payload = json.loads(raw, parse_constant=_not_json, parse_float=_finite)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise errors.bad_request(f"The body is not valid JSON: {exc}") from None
    except RecursionError:
        raise errors.bad_request("The body's JSON nests too deeply.", code="too_deep") from None
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        raise errors.bad_request(f"The body is not acceptable JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise errors.bad_request("The body must be a JSON object.")
    screen(payload)  # fields.py: a 400 naming a field that would change the answer
    try:
        if _may_hold_surrogate(raw):  # the full check re-encodes all: only when needed
            json.dumps(payload, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise errors.bad_request(
            "The body contains a lone surrogate (e.g. \\ud800): not valid Unicode text.",
            code="invalid_unicode",
        ) from None
    except RecursionError:
        raise errors.bad_request("The body's JSON nests too deeply.", code="too_deep") from None
    try:
        return model.model_validate(payload)
    except RecursionError:
        raise errors.bad_request("The body's JSON nests too deeply.", code="too_deep") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        param = ".".join(str(p) for p in first["loc"]) or None
        message = f"{param}: {first['msg']}" if param else first["msg"]
        if first["type"] == "extra_forbidden":
            message = f"Unknown field '{param}': this server does not support it."
        raise errors.bad_request(message, param=param) from None
