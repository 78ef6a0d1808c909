"""OpenAI request fields this server cannot honour, refused by name before validation.

A field that would change the answer and is not supported must not be ignored: the
client would get an answer to a question it did not ask (one choice for ``n: 3``, text
for an audio request, a description of nothing for an image). Each rule below names the
field, says which values are refused, and why, so the 400 tells the client what to drop.
Values that ask for what happens anyway (``n: 1``, ``modalities: ["text"]``) pass.

Fields accepted and ignored (``user``, ``metadata`` ...) and the ones honoured are
declared in schemas.py; anything else is refused there as an unknown field.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from amalia_local.server import errors


@dataclass(frozen=True)
class _Rule:
    refused: Callable[[Any], bool]  # the field's value (present in the body) is refused
    reason: str


def _set(value: Any) -> bool:
    return value is not None


def _not_one(value: Any) -> bool:
    return value is not None and value != 1


_SHARED = {
    "n": _Rule(_not_one, "only one choice per request is supported (n=1); send n requests"),
}

CHAT_RULES: dict[str, _Rule] = {
    **_SHARED,
    "audio": _Rule(_set, "audio output is not supported: this model writes text only"),
    "modalities": _Rule(
        lambda v: isinstance(v, list) and any(m != "text" for m in v),
        "only the text modality is supported: this model writes text only",
    ),
    "reasoning_effort": _Rule(
        lambda v: v not in (None, "none"),
        "this model does not reason before answering; reasoning_effort cannot be honoured",
    ),
    "verbosity": _Rule(_set, "verbosity is not supported; ask for the length in the prompt"),
    "web_search_options": _Rule(_set, "web search is not supported: the model runs offline"),
    "functions": _Rule(_set, "the deprecated 'functions' are not supported; send 'tools'"),
    "function_call": _Rule(
        _set, "the deprecated 'function_call' is not supported; send 'tool_choice'"
    ),
}

COMPLETION_RULES: dict[str, _Rule] = {
    **_SHARED,
    "best_of": _Rule(_not_one, "only best_of=1 is supported"),
    "suffix": _Rule(lambda v: bool(v), "text insertion (suffix) is not supported"),
}

# Content parts a text-only model cannot read, by their "type".
_PART_NAMES = {
    "image_url": "an image",
    "input_image": "an image",
    "input_audio": "audio",
    "file": "a file",
}


def screen_chat(payload: dict[str, Any]) -> None:
    """Raise a 400 naming the first field or content part this server would not honour."""
    _screen(payload, CHAT_RULES)
    if payload.get("top_logprobs") and payload.get("logprobs") is not True:
        raise errors.bad_request(
            "top_logprobs needs logprobs: true (no logprobs were asked for).",
            param="top_logprobs",
            code="unsupported_parameter",
        )
    messages = payload.get("messages")
    for i, message in enumerate(messages if isinstance(messages, list) else []):
        if not isinstance(message, dict):
            continue
        if message.get("audio") is not None:
            raise _unsupported(f"messages.{i}.audio", "audio answers cannot be read back")
        if message.get("function_call") is not None or message.get("role") == "function":
            raise _unsupported(
                f"messages.{i}", "the deprecated function messages are not supported; use tools"
            )
        content = message.get("content")
        for j, part in enumerate(content if isinstance(content, list) else []):
            # The body is not validated yet: "type" may be a list or object, which no
            # dict lookup takes (a 500 before this check); validation refuses it next.
            kind = part.get("type") if isinstance(part, dict) else None
            if isinstance(kind, str) and kind in _PART_NAMES:
                raise _unsupported(
                    f"messages.{i}.content.{j}",
                    f"this part is {_PART_NAMES[kind]} ({kind}); this model reads text only",
                )


def screen_completion(payload: dict[str, Any]) -> None:
    _screen(payload, COMPLETION_RULES)
    if payload.get("echo") and payload.get("logprobs") is not None:
        raise _unsupported(
            "logprobs", "logprobs of an echoed prompt are not supported (drop echo or logprobs)"
        )


def _screen(payload: dict[str, Any], rules: dict[str, _Rule]) -> None:
    for name, rule in rules.items():
        if name in payload and rule.refused(payload[name]):
            raise _unsupported(name, rule.reason)


def _unsupported(param: str, reason: str) -> errors.APIError:
    return errors.bad_request(
        f"'{param}' is not supported here: {reason}.", param=param, code="unsupported_parameter"
    )
