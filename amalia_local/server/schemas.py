"""The OpenAI request shapes we accept, declared once and validated at the edge.

Every field of OpenAI's chat and completions requests is honoured, accepted and ignored
because it cannot change the answer (``_IgnoredFields``), or refused with a 400 naming
it (fields.py: ``n`` > 1, audio, images ...); unknown fields are refused too, never
silently ignored. Sizes are bounded here so nothing downstream sees a thousand stop
strings or tools.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_MESSAGES = 1024
MAX_STOPS = 4
MAX_STOP_LENGTH = 64
MAX_TOKENS_LIMIT = 1 << 20
# OpenAI's own limits: 128 tools, names of 64 characters, 300 logit biases, 20 top logprobs.
MAX_TOOLS = 128
MAX_TOOL_CALLS = 128
MAX_LOGIT_BIAS = 300
MAX_TOP_LOGPROBS = 20
MAX_COMPLETION_LOGPROBS = 5
FUNCTION_NAME = r"^[A-Za-z0-9_-]{1,64}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TextPart(_Strict):
    type: Literal["text"]
    text: str


class RefusalPart(_Strict):
    """An earlier answer's refusal, as OpenAI's assistant messages may carry it."""

    type: Literal["refusal"]
    refusal: str


class FunctionCall(_Strict):
    name: str
    arguments: str  # JSON text, as the model wrote it


class ToolCall(_Strict):
    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class ChatMessage(_Strict):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[TextPart | RefusalPart] | None = None
    name: str | None = None
    # An assistant's earlier calls, and a tool message's answer to one of them.
    tool_calls: Annotated[list[ToolCall], Field(max_length=MAX_TOOL_CALLS)] | None = None
    tool_call_id: str | None = None
    # What clients send back when they append a whole earlier reply: a refusal is the
    # answer's text; annotations (citations of it) cannot change the next answer.
    refusal: str | None = None
    annotations: list[Any] | None = None
    audio: None = None  # fields.py refuses a non-null one by name
    function_call: None = None

    def text(self) -> str:
        if self.content is None:
            return self.refusal or ""
        if isinstance(self.content, str):
            return self.content
        return "".join(
            part.text if isinstance(part, TextPart) else part.refusal for part in self.content
        )


class StreamOptions(_Strict):
    include_usage: bool = False
    # Random padding against a side channel of OpenAI's own network: not the answer.
    include_obfuscation: bool | None = None


class FunctionDefinition(_Strict):
    name: Annotated[str, Field(pattern=FUNCTION_NAME)]
    description: str | None = None
    parameters: dict[str, Any] | None = None
    # The arguments always follow the schema here (a grammar), strict or not.
    strict: bool | None = None


class Tool(_Strict):
    type: Literal["function"]
    function: FunctionDefinition


class NamedFunction(_Strict):
    name: str


class NamedToolChoice(_Strict):
    type: Literal["function"]
    function: NamedFunction


class JsonSchema(_Strict):
    name: str = "answer"
    description: str | None = None
    schema_: dict[str, Any] = Field(default_factory=dict, alias="schema")
    strict: bool | None = None


class ResponseFormat(_Strict):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchema | None = None


class _SamplingFields(_Strict):
    """What both endpoints share: the model, sampling, limits, stop strings, streaming."""

    model: str
    temperature: Annotated[float, Field(ge=0.0, le=2.0)] = 1.0
    top_p: Annotated[float, Field(gt=0.0, le=1.0)] = 1.0
    # llama.cpp's own extensions, accepted by llama-server and vLLM too.
    top_k: Annotated[int, Field(ge=0, le=1000)] = 40
    min_p: Annotated[float, Field(ge=0.0, le=1.0)] = 0.05
    repeat_penalty: Annotated[float, Field(gt=0.0, le=10.0)] = 1.0
    frequency_penalty: Annotated[float, Field(ge=-2.0, le=2.0)] = 0.0
    presence_penalty: Annotated[float, Field(ge=-2.0, le=2.0)] = 0.0
    max_tokens: Annotated[int, Field(ge=1, le=MAX_TOKENS_LIMIT)] | None = None
    stop: str | list[str] | None = None
    # llama.cpp takes 32 bits of it; a 5,000-digit number is a mistake, not a seed.
    seed: Annotated[int, Field(ge=-(2**63), le=2**64 - 1)] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: Annotated[int, Field(ge=1, le=1)] = 1  # fields.py names it when it is not 1
    # token id (as a string, JSON keys are) -> bias added to its logit, as OpenAI's.
    logit_bias: (
        Annotated[dict[str, Annotated[float, Field(ge=-100, le=100)]], Field(max_length=300)] | None
    ) = None
    # Accepted and ignored: who asks, what to store or bill, and cache hints (a prompt's
    # prefix is reused here whatever the client says) do not change the answer.
    user: str | None = None
    metadata: dict[str, str] | None = None
    store: bool | None = None
    service_tier: str | None = None
    safety_identifier: str | None = None
    prompt_cache_key: str | None = None
    prompt_cache_retention: str | None = None

    @field_validator("stop")
    @classmethod
    def _bounded_stops(cls, value: str | list[str] | None) -> str | list[str] | None:
        stops = [value] if isinstance(value, str) else value or []
        if len(stops) > MAX_STOPS or any(len(s) > MAX_STOP_LENGTH for s in stops):
            raise ValueError(
                f"at most {MAX_STOPS} stop strings of at most {MAX_STOP_LENGTH} characters"
            )
        return value

    def token_biases(self) -> tuple[tuple[int, float], ...]:
        """The logit biases as (token id, bias); ValueError names a key that is no id."""
        biases = []
        for key, bias in (self.logit_bias or {}).items():
            if not key.strip().isdigit():
                raise ValueError(f"logit_bias key '{key[:20]}' is not a token id")
            biases.append((int(key), bias))
        return tuple(biases)

    def stops(self) -> tuple[str, ...]:
        if self.stop is None:
            return ()
        return (self.stop,) if isinstance(self.stop, str) else tuple(self.stop)

    @property
    def include_usage(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)


class ChatCompletionRequest(_SamplingFields):
    messages: Annotated[list[ChatMessage], Field(min_length=1, max_length=MAX_MESSAGES)]
    max_completion_tokens: Annotated[int, Field(ge=1, le=MAX_TOKENS_LIMIT)] | None = None
    response_format: ResponseFormat | None = None
    tools: Annotated[list[Tool], Field(max_length=MAX_TOOLS)] | None = None
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoice | None = None
    parallel_tool_calls: bool | None = None  # without tools: nothing to call, ignored
    logprobs: bool | None = None
    top_logprobs: Annotated[int, Field(ge=0, le=MAX_TOP_LOGPROBS)] | None = None
    # Predicted outputs make an answer faster, not different: accepted and ignored.
    prediction: dict[str, Any] | None = None
    modalities: list[Literal["text"]] | None = None  # fields.py refuses "audio"

    def token_limit(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens

    def logprob_count(self) -> int | None:
        """How many alternatives to give per token; None: no logprobs at all."""
        return (self.top_logprobs or 0) if self.logprobs else None


class CompletionRequest(_SamplingFields):
    prompt: str | Annotated[list[str], Field(min_length=1, max_length=1)]
    max_tokens: Annotated[int, Field(ge=1, le=MAX_TOKENS_LIMIT)] | None = 16
    echo: bool = False
    logprobs: Annotated[int, Field(ge=0, le=MAX_COMPLETION_LOGPROBS)] | None = None
    best_of: Annotated[int, Field(ge=1, le=1)] | None = None  # fields.py names it when > 1
    suffix: str | None = None  # fields.py refuses a non-empty one

    def logprob_count(self) -> int | None:
        return self.logprobs

    def prompt_text(self) -> str:
        return self.prompt if isinstance(self.prompt, str) else self.prompt[0]

    def token_limit(self) -> int | None:
        return self.max_tokens
