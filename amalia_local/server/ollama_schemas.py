"""Ollama's request shapes (``/api/chat``, ``/api/generate``, ``/api/show``), bounded.

Ollama itself ignores what it does not know; here each field is either honoured,
accepted because it cannot change the answer on this server (``num_thread``,
``use_mmap``: how to run, not what to say), or refused with a 400 that names it
(``images``, ``tools``, ``mirostat``) so that nobody gets a different answer than they
asked for without being told. Sizes are bounded as on the OpenAI side.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from amalia_local.server import errors
from amalia_local.server.schemas import MAX_MESSAGES, MAX_STOP_LENGTH, MAX_TOKENS_LIMIT

# Ollama clients send more stop strings than OpenAI's four (Continue's completions send
# a dozen); each is matched on every token, so they stay few and short.
MAX_OLLAMA_STOPS = 16
# The penalties' window (engine/sampler.py: PENALTY_LAST_N), Ollama's default too.
PENALTY_WINDOW = 64
MAX_MODEL_NAME = 256
MAX_DURATION_TEXT = 32
# A keep_alive beyond this many seconds (~30 years) is "forever": no date overflows.
FOREVER_S = 1e9
# The largest num_ctx worth a number (llama.cpp's contexts are int32).
MAX_NUM_CTX = 1 << 31


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


_Stop = Annotated[str, Field(max_length=MAX_STOP_LENGTH)]


class OllamaOptions(_Strict):
    """``options``: Ollama's Modelfile parameters, per request."""

    # Honoured.
    temperature: Annotated[float, Field(ge=0.0, le=2.0)] | None = None
    top_p: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    top_k: Annotated[int, Field(ge=0, le=1000)] | None = None
    min_p: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    seed: Annotated[int, Field(ge=-(2**63), le=2**64 - 1)] | None = None
    num_predict: Annotated[int, Field(ge=-2, le=MAX_TOKENS_LIMIT)] | None = None
    stop: Annotated[list[_Stop], Field(max_length=MAX_OLLAMA_STOPS)] | None = None
    repeat_penalty: Annotated[float, Field(gt=0.0, le=10.0)] | None = None
    presence_penalty: Annotated[float, Field(ge=-2.0, le=2.0)] | None = None
    frequency_penalty: Annotated[float, Field(ge=-2.0, le=2.0)] | None = None
    repeat_last_n: Annotated[int, Field(ge=-1, le=MAX_NUM_CTX)] | None = None
    num_ctx: Annotated[int, Field(ge=1, le=MAX_NUM_CTX)] | None = None
    # Honoured at their neutral value only (the sampler here has no such stage).
    typical_p: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    mirostat: Annotated[int, Field(ge=0, le=2)] | None = None
    mirostat_tau: float | None = None  # only read with mirostat
    mirostat_eta: float | None = None
    # Cannot change the answer here: how to load and run the model (the server decided
    # that at start), num_keep (the context is never shifted: an answer stops at its
    # end), and what llama.cpp no longer has (tfs_z, penalize_newline: Ollama ignores
    # them as well).
    num_keep: int | None = None
    num_batch: int | None = None
    num_gpu: int | None = None
    main_gpu: int | None = None
    num_thread: int | None = None
    numa: bool | None = None
    low_vram: bool | None = None
    f16_kv: bool | None = None
    vocab_only: bool | None = None
    use_mmap: bool | None = None
    use_mlock: bool | None = None
    logits_all: bool | None = None
    embedding_only: bool | None = None
    tfs_z: float | None = None
    penalize_newline: bool | None = None

    def check_supported(self) -> None:
        """A 400 naming the first option this server cannot honour as asked."""
        if self.typical_p is not None and self.typical_p != 1.0:
            raise _unsupported("typical_p", "locally typical sampling", "1")
        if self.mirostat:
            raise _unsupported("mirostat", "Mirostat sampling", "0")
        penalised = (
            (self.repeat_penalty or 1.0) != 1.0
            or bool(self.presence_penalty)
            or bool(self.frequency_penalty)
        )
        if penalised and self.repeat_last_n not in (None, 0, PENALTY_WINDOW):
            raise errors.bad_request(
                f"options.repeat_last_n: this server's penalties look back over the last "
                f"{PENALTY_WINDOW} tokens; send {PENALTY_WINDOW} (or 0 for no penalties).",
                param="options.repeat_last_n",
            )


def _unsupported(name: str, what: str, neutral: str) -> errors.APIError:
    return errors.bad_request(
        f"options.{name}: this server has no {what}; leave it out or send {neutral}.",
        param=f"options.{name}",
    )


class OllamaMessage(_Strict):
    role: Literal["system", "user", "assistant", "tool"]
    content: str | None = None
    images: list[str] | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_name: str | None = None
    # A thinking model's reasoning, sent back by clients; no template here shows it.
    thinking: str | None = None

    def check_supported(self, index: int) -> None:
        where = f"messages.{index}"
        if self.images:
            raise errors.bad_request(
                f"{where}.images: this model reads text only.", param=f"{where}.images"
            )
        if self.role == "tool" or self.tool_calls or self.tool_name:
            raise errors.bad_request(
                f"{where}: tool messages and tool_calls are not supported on /api/chat.",
                param=where,
            )


# ``format``: "" or absent (text), "json", or a JSON schema object.
Format = str | dict[str, Any] | None
# ``keep_alive``: seconds, or a Go duration ("5m", "1h30m", "-1"); checked by keep_alive_s.
KeepAlive = float | str | None


class _GenerationFields(_Strict):
    model: Annotated[str, Field(min_length=1, max_length=MAX_MODEL_NAME)]
    format: Format = None
    options: OllamaOptions | None = None
    stream: bool = True  # Ollama streams unless told not to
    keep_alive: KeepAlive = None
    think: bool | str | None = None
    logprobs: bool | None = None
    top_logprobs: Annotated[int, Field(ge=0, le=20)] | None = None

    def check_supported(self) -> None:
        if self.think:  # False and None ask for nothing; "low", "high" ... do
            raise errors.bad_request(
                f"think: '{self.model}' is not a thinking model.", param="think"
            )
        if self.logprobs:
            raise errors.bad_request(
                "logprobs: not available on the Ollama API of this server.", param="logprobs"
            )
        if self.options is not None:
            self.options.check_supported()


class OllamaChatRequest(_GenerationFields):
    messages: Annotated[list[OllamaMessage], Field(max_length=MAX_MESSAGES)] = Field(
        default_factory=list
    )
    tools: list[dict[str, Any]] | None = None
    # We never drop a conversation's start to fit it, nor shift the context while
    # answering; both defaults describe Ollama, false describes us.
    truncate: bool | None = None
    shift: bool | None = None

    def check_supported(self) -> None:
        super().check_supported()
        if self.tools:
            raise errors.bad_request("tools: not supported on /api/chat.", param="tools")
        for index, message in enumerate(self.messages):
            message.check_supported(index)


class OllamaGenerateRequest(_GenerationFields):
    prompt: str | None = None
    system: str | None = None
    suffix: str | None = None
    template: str | None = None
    raw: bool | None = None
    context: Annotated[list[int], Field(max_length=MAX_TOKENS_LIMIT)] | None = None
    images: list[str] | None = None

    def check_supported(self) -> None:
        super().check_supported()
        if self.suffix:
            raise errors.bad_request(
                "suffix: this model has no fill-in-the-middle.", param="suffix"
            )
        if self.template:
            raise errors.bad_request(
                "template: this server renders prompts with the model's own chat template "
                "only (or none: raw).",
                param="template",
            )
        if self.images:
            raise errors.bad_request("images: this model reads text only.", param="images")


class OllamaShowRequest(_Strict):
    # ``name`` is what older clients send.
    model: Annotated[str, Field(max_length=MAX_MODEL_NAME)] | None = None
    name: Annotated[str, Field(max_length=MAX_MODEL_NAME)] | None = None
    verbose: bool | None = None

    def model_name(self) -> str:
        name = self.model or self.name
        if not name:
            raise errors.bad_request("model: required.", param="model")
        return name


_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_DURATION = re.compile(r"([0-9]*\.?[0-9]+)(ns|us|µs|μs|ms|s|m|h)")


def keep_alive_s(value: float | str) -> float | None:
    """Seconds a client wants the model kept after its request: 0 = unload now,
    None = forever (a negative value).

    Ollama reads a number as seconds and a string as a Go duration ("5m", "1h30m",
    "-1s"); a bare number in a string is taken as seconds, as Ollama's own variable is.
    """
    if isinstance(value, bool):
        raise _bad_keep_alive(value)
    if isinstance(value, float | int):
        if math.isnan(value):
            raise _bad_keep_alive(value)
        return None if value < 0 or value > FOREVER_S else float(value)
    text = value.strip()
    if len(text) > MAX_DURATION_TEXT:
        raise _bad_keep_alive(text[:MAX_DURATION_TEXT] + "…")
    sign = -1.0 if text.startswith("-") else 1.0
    body = text.lstrip("+-")
    try:
        seconds = float(body)
    except ValueError:
        if not body or _DURATION.sub("", body):
            raise _bad_keep_alive(text) from None
        seconds = sum(float(n) * _UNITS[unit] for n, unit in _DURATION.findall(body))
    if not math.isfinite(seconds):
        raise _bad_keep_alive(text)
    return None if (sign < 0 and seconds > 0) or seconds > FOREVER_S else seconds


def _bad_keep_alive(value: object) -> errors.APIError:
    return errors.bad_request(
        f"keep_alive: {value!r} is not a duration (seconds, or e.g. '5m', '1h', '0', '-1').",
        param="keep_alive",
    )
