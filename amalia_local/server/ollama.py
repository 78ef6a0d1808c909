"""Ollama's API on the same port as the OpenAI one, for the tools that speak only Ollama.

``/api/version``, ``/api/tags``, ``/api/show``, ``/api/ps``, ``/api/chat`` and
``/api/generate``, mounted under ``/api`` with their own 404 and 405, and ``GET /``
answering as Ollama does (Page Assist and others probe it before anything else).

Everything a request passes through is the OpenAI side's: the key check (Ollama
clients send ``Authorization: Bearer``), the bounded body read and JSON parsing, the
bounded schema-to-grammar conversion, the model host and its queue. What differs is
the shape: answers are NDJSON lines unless ``stream`` is false, errors are
``{"error": "..."}`` with the same status codes, and ``options`` / ``keep_alive`` are
mapped onto this server's sampling and idle unload (ollama_schemas.py says which field
is honoured, which cannot matter here, and which is refused).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from amalia_local.engine import Engine, Message, SamplingOptions, StopReason
from amalia_local.engine.batch import GeneratorFailed, Sequence, SequenceRequest
from amalia_local.errors import AmaliaError
from amalia_local.model_file import ModelFile
from amalia_local.server import errors, lifecycle, ollama_info
from amalia_local.server.app import API
from amalia_local.server.host import ModelHost
from amalia_local.server.ollama_schemas import (
    Format,
    OllamaChatRequest,
    OllamaGenerateRequest,
    OllamaOptions,
    OllamaShowRequest,
    keep_alive_s,
)
from amalia_local.server.prompts import Memos, chat_prompt
from amalia_local.server.request_grammar import check_grammar, response_grammar
from amalia_local.server.schemas import ChatMessage, JsonSchema, ResponseFormat

log = logging.getLogger(__name__)

RUNNING = "Ollama is running (amalia serve: Ollama's API at /api, OpenAI's at /v1)"
_DONE_REASON = {StopReason.END: "stop", StopReason.LENGTH: "length"}
_NS = 1_000_000_000
T = TypeVar("T")


def build(api: API) -> Starlette:
    """The ``/api`` sub-application (mounted by app.py beside the OpenAI routes)."""
    ollama = _Ollama(api)
    return Starlette(
        routes=[
            Route("/version", ollama.version, methods=["GET"]),
            Route("/tags", ollama.tags, methods=["GET"]),
            Route("/ps", ollama.ps, methods=["GET"]),
            Route("/show", ollama.show, methods=["POST"]),
            Route("/chat", ollama.chat, methods=["POST"]),
            Route("/generate", ollama.generate, methods=["POST"]),
        ],
        exception_handlers={404: _not_found, 405: _not_allowed, Exception: _unexpected},
    )


async def root(_request: Request) -> Response:
    """``GET /``: how Ollama clients tell that a server is there."""
    return PlainTextResponse(RUNNING)


def refuse(exc: errors.APIError) -> Response:
    """Ollama's error shape, with the status, headers and log line of the OpenAI side."""
    level = logging.ERROR if exc.status >= 500 and exc.code != "queue_full" else logging.WARNING
    log.log(level, "%d %s: %s", exc.status, exc.code or exc.type, exc.message)
    return JSONResponse({"error": exc.message}, status_code=exc.status, headers=exc.headers)


async def _not_found(request: Request, _exc: Exception) -> Response:
    return refuse(
        errors.APIError(
            404,
            f"{request.url.path} is not part of this server's Ollama API: it serves one "
            "model from its file (see /api/tags), without pull, create or embeddings.",
            code="not_found",
        )
    )


async def _not_allowed(_request: Request, _exc: Exception) -> Response:
    return refuse(errors.APIError(405, "Method not allowed.", code="method_not_allowed"))


async def _unexpected(_request: Request, _exc: Exception) -> Response:
    """Ollama's shape for the 500 this sub-application sends; its Starlette raises the
    exception again, and failsafe.py logs it once, without a traceback."""
    return errors.shaped("/api/", errors.internal("Internal server error."))


@dataclass
class _Timing:
    """Ollama's durations: from the request's arrival, and the model's load if any."""

    started: float
    load_s: float = 0.0


class _Ollama:
    def __init__(self, api: API) -> None:
        self.api = api
        self.host = api.host
        self._model_file: ModelFile | None = None

    # --- model information ---------------------------------------------------------------
    async def version(self, _request: Request) -> Response:
        # Unauthenticated, as /health: it says which API this is, nothing about the model.
        return JSONResponse({"version": ollama_info.OLLAMA_API_VERSION})

    async def tags(self, request: Request) -> Response:
        try:
            self.api.authorize(request)
            model = await self._describe()
            return JSONResponse({"models": [ollama_info.tag(self.host.name, model)]})
        except errors.APIError as exc:
            return refuse(exc)

    async def ps(self, request: Request) -> Response:
        try:
            self.api.authorize(request)
            if not self.host.status()["loaded"]:
                return JSONResponse({"models": []})
            model = await self._describe()
            entry = ollama_info.running(
                self.host.name, model, self.host.plan.n_ctx_per_seq, self.host.unloads_in()
            )
            return JSONResponse({"models": [entry]})
        except errors.APIError as exc:
            return refuse(exc)

    async def show(self, request: Request) -> Response:
        try:
            self.api.authorize(request)
            body = await self.api.parse(request, OllamaShowRequest)
            assert isinstance(body, OllamaShowRequest)
            self._check_model(body.model_name())
            model = await self._describe()
            return JSONResponse(ollama_info.show(model, self.host.plan.n_ctx_per_seq))
        except errors.APIError as exc:
            return refuse(exc)

    async def _describe(self) -> ModelFile:
        """The served file's header, read once (inspect's cache makes that fast)."""
        if self._model_file is None:
            try:
                self._model_file = await run_in_threadpool(self.host.describe)
            except (AmaliaError, OSError) as exc:  # the file moved or changed under us
                raise errors.internal(f"The model file cannot be read: {exc}") from None
        return self._model_file

    def _check_model(self, name: str) -> None:
        """The served name, with or without Ollama's default tag."""
        if name.removesuffix(":latest") != self.host.name.removesuffix(":latest"):
            raise errors.APIError(
                404,
                f"model '{name}' not found: this server serves '{self.host.name}'.",
                param="model",
                code="model_not_found",
            )

    # --- generation ----------------------------------------------------------------------
    async def chat(self, request: Request) -> Response:
        timing = _Timing(time.perf_counter())
        try:
            self.api.authorize(request)
            body = await self.api.parse(request, OllamaChatRequest)
            assert isinstance(body, OllamaChatRequest)
            self._check_model(body.model)
            body.check_supported()
            keep = _keep_alive(body.keep_alive)
            if not body.messages:
                return await self._load_or_unload(body.model, keep, timing, chat=True)
            grammar = await self._grammar(body.format)
            # Roles are system, user and assistant here (check_supported refused "tool").
            messages = [
                ChatMessage.model_validate({"role": m.role, "content": m.content or ""})
                for m in body.messages
            ]
            options = body.options or OllamaOptions()

            def build(engine: Engine, n_ctx: int, memos: Memos) -> SequenceRequest:
                check_grammar(engine, grammar)
                text, tokens = chat_prompt(engine, messages, memos)
                return _sequence_request(options, tokens, n_ctx, grammar, text)

            sequence, channel = await self._submit(build, options, timing)
            reply = _Reply(body.model, chat=True, timing=timing)
            return await self._respond(request, body.stream, sequence, channel, reply, keep)
        except errors.APIError as exc:
            return refuse(exc)

    async def generate(self, request: Request) -> Response:
        timing = _Timing(time.perf_counter())
        try:
            self.api.authorize(request)
            body = await self.api.parse(request, OllamaGenerateRequest)
            assert isinstance(body, OllamaGenerateRequest)
            self._check_model(body.model)
            body.check_supported()
            keep = _keep_alive(body.keep_alive)
            if not body.prompt and not body.context:
                return await self._load_or_unload(body.model, keep, timing, chat=False)
            grammar = await self._grammar(body.format)
            options = body.options or OllamaOptions()
            vocab = (await self._describe()).vocab_size if body.context else 0

            def build(engine: Engine, n_ctx: int, _memos: Memos) -> SequenceRequest:
                check_grammar(engine, grammar)
                text, tokens = _generate_prompt(engine, body, vocab)
                return _sequence_request(options, tokens, n_ctx, grammar, text)

            sequence, channel = await self._submit(build, options, timing)
            reply = _Reply(body.model, chat=False, timing=timing, host=self.host)
            return await self._respond(request, body.stream, sequence, channel, reply, keep)
        except errors.APIError as exc:
            return refuse(exc)

    async def _grammar(self, format: Format) -> str | None:
        """``format`` through the OpenAI side's bounded conversion (schema_limits.py)."""
        if format is None or format == "":
            return None
        if format == "json":
            response_format = ResponseFormat(type="json_object")
        elif isinstance(format, dict):
            response_format = ResponseFormat(
                type="json_schema", json_schema=JsonSchema(schema=format)
            )
        else:
            raise errors.bad_request("format: 'json' or a JSON schema object.", param="format")
        return await self.api.grammars.convert(
            lambda: response_grammar(response_format), param="format"
        )

    async def _load_or_unload(
        self, model: str, keep: _Keep, timing: _Timing, *, chat: bool
    ) -> Response:
        """A request with nothing to answer loads the model, or with keep_alive 0 lets
        it go (``ollama stop``), as Ollama does."""
        if keep.given and keep.seconds == 0:
            self.host.keep_alive(0)
            reason = "unload"
        else:
            loads = self.host.loads
            try:
                await run_in_threadpool(self.host.load)
            except GeneratorFailed as exc:
                raise errors.unavailable(str(exc.params.get("reason", ""))) from None
            except AmaliaError as exc:
                raise errors.internal(f"The model could not be loaded: {exc}") from None
            if self.host.loads != loads:
                timing.load_s = time.perf_counter() - timing.started
            self.host.keep_alive(keep.seconds)  # absent: back to the server's own
            reason = "load"
        answer: dict[str, Any] = {"model": model, "created_at": ollama_info.timestamp()}
        if chat:
            answer["message"] = {"role": "assistant", "content": ""}
        else:
            answer["response"] = ""
        answer |= {
            "done": True,
            "done_reason": reason,
            "total_duration": _ns(time.perf_counter() - timing.started),
            "load_duration": _ns(timing.load_s),
        }
        return JSONResponse(answer)

    async def _submit(
        self,
        build: Callable[[Engine, int, Memos], SequenceRequest],
        options: OllamaOptions,
        timing: _Timing,
    ) -> tuple[Sequence, lifecycle.Channel]:
        def overflow(needed: int, n_ctx: int) -> errors.APIError:
            asked = f" (options.num_ctx {options.num_ctx} is more than this server has)"
            beyond = options.num_ctx is not None and options.num_ctx > n_ctx
            return errors.APIError(
                400,
                f"The prompt has {needed} tokens; this server's context is {n_ctx} tokens "
                f"per request{asked if beyond else ''}.",
                code="context_length_exceeded",
            )

        loads = self.host.loads
        sequence, channel = await lifecycle.submit(self.host, build, overflow)
        if self.host.loads != loads:
            timing.load_s = time.perf_counter() - timing.started
        return sequence, channel

    async def _respond(
        self,
        request: Request,
        stream: bool,
        sequence: Sequence,
        channel: lifecycle.Channel,
        reply: _Reply,
        keep: _Keep,
    ) -> Response:
        if stream:
            return StreamingResponse(
                _stream(channel, sequence, reply, keep, self.host),
                media_type="application/x-ndjson",
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            )
        try:
            text = await lifecycle.read_all(request, channel, sequence)
        finally:
            keep.apply(self.host)
        failed = lifecycle.failure(sequence)
        if failed is not None:
            return Response(status_code=499) if failed.status == 499 else refuse(failed)
        final = reply.final(sequence, text)
        if not reply.chat:
            final["context"] = await reply.context(sequence, text)
            if final["context"] is None:
                del final["context"]
        return JSONResponse(final)


@dataclass
class _Keep:
    """A request's keep_alive: applied to the host once its answer has ended."""

    given: bool
    seconds: float | None  # None: forever

    def apply(self, host: ModelHost) -> None:
        if self.given:
            host.keep_alive(self.seconds)


def _keep_alive(value: float | str | None) -> _Keep:
    if value is None:
        return _Keep(False, None)
    return _Keep(True, keep_alive_s(value))


class _Reply:
    """The lines of one answer: text chunks, then the last line with Ollama's figures."""

    def __init__(
        self, model: str, *, chat: bool, timing: _Timing, host: ModelHost | None = None
    ) -> None:
        self.model = model
        self.chat = chat
        self.timing = timing
        self.host = host

    def chunk(self, text: str) -> dict[str, Any]:
        line: dict[str, Any] = {"model": self.model, "created_at": ollama_info.timestamp()}
        if self.chat:
            line["message"] = {"role": "assistant", "content": text}
        else:
            line["response"] = text
        line["done"] = False
        return line

    def final(self, sequence: Sequence, text: str = "") -> dict[str, Any]:
        stats = sequence.stats
        line = self.chunk(text)
        line["done"] = True
        line["done_reason"] = _DONE_REASON.get(stats.stop_reason, "stop")
        line["total_duration"] = _ns(time.perf_counter() - self.timing.started)
        line["load_duration"] = _ns(self.timing.load_s)
        # The whole prompt, as Ollama's documentation defines it (cached tokens included).
        line["prompt_eval_count"] = stats.prompt_tokens
        line["prompt_eval_duration"] = _ns(stats.prompt_seconds)
        line["eval_count"] = stats.generated_tokens
        line["eval_duration"] = _ns(stats.generation_seconds)
        return line

    async def context(self, sequence: Sequence, text: str) -> list[int] | None:
        """The prompt's tokens and the answer's, to send back as the next ``context``
        (as Ollama, the answer is tokenized again; None if the model was unloaded)."""
        if self.host is None:
            return None
        answer = await run_in_threadpool(self.host.tokenize, text) if text else []
        return None if answer is None else sequence.request.tokens + answer


def _ns(seconds: float) -> int:
    return max(0, round(seconds * _NS))


def _line(payload: dict[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False) + "\n"


async def _stream(
    channel: lifecycle.Channel,
    sequence: Sequence,
    reply: _Reply,
    keep: _Keep,
    host: ModelHost,
) -> AsyncIterator[str]:
    """NDJSON lines; leaving early (the client went away) cancels the sequence. A failure
    after the first line is an ``{"error"}`` line, which Ollama's clients raise."""
    try:
        parts: list[str] = []
        while (item := await channel.next()) is not None:
            parts.append(item)
            yield _line(reply.chunk(item))
        if sequence.error is not None:
            log.error("generation failed: %s", sequence.error)
            yield _line({"error": "Generation failed."})
            return
        final = reply.final(sequence)
        if not reply.chat:
            context = await reply.context(sequence, "".join(parts))
            if context is not None:
                final["context"] = context
        yield _line(final)
    finally:
        sequence.cancel()  # a no-op once it has ended
        keep.apply(host)


def _sequence_request(
    options: OllamaOptions,
    tokens: list[int],
    n_ctx: int,
    grammar: str | None,
    text: str | None,
) -> SequenceRequest:
    """Ollama's options on this server's sampling; num_ctx honoured where it is smaller
    than the server's context (the prompt must fit it, the answer stops at its end)."""
    defaults = SamplingOptions()
    limit = options.num_predict if options.num_predict and options.num_predict > 0 else None
    if options.num_ctx is not None and options.num_ctx < n_ctx:
        room = options.num_ctx - len(tokens)
        if room <= 0:
            raise errors.bad_request(
                f"The prompt has {len(tokens)} tokens; options.num_ctx is {options.num_ctx}.",
                param="options.num_ctx",
                code="context_length_exceeded",
            )
        limit = min(limit, room) if limit else room
    penalties = options.repeat_last_n != 0  # 0: Ollama's way to turn them off
    sampling = SamplingOptions(
        temperature=_given(options.temperature, defaults.temperature),
        top_p=_given(options.top_p, defaults.top_p),
        top_k=_given(options.top_k, defaults.top_k),
        min_p=_given(options.min_p, defaults.min_p),
        repeat_penalty=_given(options.repeat_penalty, defaults.repeat_penalty)
        if penalties
        else 1.0,
        max_tokens=limit,
        seed=options.seed,
    )
    return SequenceRequest(
        tokens=tokens,
        sampling=sampling,
        grammar=grammar,
        stop=tuple(options.stop or ()),
        frequency_penalty=(options.frequency_penalty or 0.0) if penalties else 0.0,
        presence_penalty=(options.presence_penalty or 0.0) if penalties else 0.0,
        text=text,
    )


def _given(value: T | None, default: T) -> T:
    return default if value is None else value


def _generate_prompt(
    engine: Engine, body: OllamaGenerateRequest, vocab: int
) -> tuple[str | None, list[int]]:
    """``prompt`` (with ``system``) in the chat template, or as it is with ``raw``; after
    ``context``, the tokens of an earlier answer, when there is one."""
    prompt = body.prompt or ""
    if body.raw:
        text = prompt
    else:
        messages = [Message("system", body.system)] if body.system else []
        messages.append(Message("user", prompt))
        text = engine.template.render(messages, add_generation_prompt=True)
    if not body.context:
        return text if not body.raw else None, engine.tokenize(text)
    bad = next((t for t in body.context if not 0 <= t < vocab), None)
    if bad is not None:
        raise errors.bad_request(
            f"context: {bad} is not a token of this model (0 to {vocab - 1}).", param="context"
        )
    bos = engine.template.bos_token
    rest = text.removeprefix(bos) if bos else text
    return None, list(body.context) + engine.tokenize(rest, add_special=False)
