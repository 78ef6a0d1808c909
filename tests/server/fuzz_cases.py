"""Hostile requests for ``amalia serve``'s routes, made from valid ones, deterministically.

Each valid body is mutated field by field (every leaf and every container replaced by
each of a list of hostile values, removed, or joined by an unknown field), then as bytes
(truncated, invalid UTF-8, JSON's non-standard literals, nesting beyond any parser,
beyond the body limit), and sent with wrong methods and content types. A seeded draw
picks the field mutations sent, so a run is the same every time and stays short; the
byte-level ones are all sent.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

SEED = 29
# A string of the server's whole body limit does not fit; this one does, and makes a
# prompt far beyond the context (the server must say so, not chew on it for long).
LONG_TEXT = "palavra " * 25_000  # 200 KB
DEEP_JSON = 64  # nesting that parses; the server's schema limit is 32
RAW_MARK = "__raw_literal__"

_deep: Any = "x"
for _ in range(DEEP_JSON):
    _deep = {"a": [_deep]}

# Values every field gets in turn: wrong types, nulls, extremes, lookalikes of numbers.
HOSTILE: list[Any] = [
    None,
    True,
    0,
    -1,
    2**64,
    -(2**63) - 1,
    1e308,
    -1e308,
    5e-324,
    0.5,
    "",
    "NaN",
    "-1",
    "5x",
    "\x00",
    "\ud800",  # a lone surrogate, sent as the escape \ud800
    LONG_TEXT,
    [],
    [None, 1, "a", {}],
    ["x"] * 2000,
    {},
    {"type": "object", "$ref": "#"},
    _deep,
]
# JSON text Python's parser takes but JSON does not, and numbers beyond a double or int.
RAW_LITERALS = ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "9" * 5000, "1" + "0" * 400]


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    path: str
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def ollama(self) -> bool:
        return self.path.startswith("/api/")


def valid_bodies(model: str) -> dict[str, list[dict[str, Any]]]:
    """Valid requests per route, each asking for at most a few tokens."""
    weather = {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "The weather in a city.",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "maxLength": 20},
                    "days": {"type": "integer", "minimum": 1, "maximum": 7},
                },
                "required": ["city"],
            },
        },
    }
    tool_chat = {
        "model": model,
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Weather in Lisboa?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Lisboa"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "20 C, sunny"},
        ],
        "tools": [weather],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        "parallel_tool_calls": False,
        "max_tokens": 3,
        "max_completion_tokens": 3,
        "seed": 7,
        "stream": False,
    }
    schema_chat = {
        "model": model,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "A colour?"}]}],
        "response_format": {
            "type": "json_schema",
            "json_schema": {
                "name": "colour",
                "schema": {
                    "type": "object",
                    "properties": {"name": {"type": "string", "enum": ["red", "blue"]}},
                },
                "strict": True,
            },
        },
        "logprobs": True,
        "top_logprobs": 2,
        "logit_bias": {"42": -5, "7": 1.5},
        "stop": ["\n\n", "}"],
        "temperature": 0.3,
        "top_p": 0.9,
        "frequency_penalty": 0.1,
        "presence_penalty": -0.1,
        "max_completion_tokens": 2,
        "max_tokens": 2,
        "stream": True,
        "stream_options": {"include_usage": True},
        "user": "fuzz",
        "metadata": {"k": "v"},
    }
    completion = {
        "model": model,
        "prompt": "Lisboa é",
        "max_tokens": 2,
        "logprobs": 2,
        "stop": "\n",
        "seed": 1,
        "echo": False,
        "stream": False,
        "logit_bias": {"1": 0},
    }
    ollama_chat = {
        "model": model,
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Olá"},
        ],
        "stream": False,
        "format": {"type": "object", "properties": {"a": {"type": "integer"}}},
        "options": {
            "num_predict": 2,
            "temperature": 0.5,
            "top_k": 20,
            "top_p": 0.9,
            "seed": 3,
            "stop": ["\n"],
            "num_ctx": 512,
            "repeat_penalty": 1.1,
            "repeat_last_n": 64,
        },
        "keep_alive": "5m",
    }
    ollama_generate = {
        "model": model,
        "prompt": "Porto é",
        "system": "Be brief.",
        "stream": True,
        "format": "json",
        "options": {"num_predict": 2, "seed": 4, "num_thread": 2},
        "keep_alive": 300,
        "raw": False,
        "context": [1, 2, 3],
    }
    return {
        "/v1/chat/completions": [tool_chat, schema_chat],
        "/v1/completions": [completion],
        "/api/chat": [ollama_chat],
        "/api/generate": [ollama_generate],
        "/api/show": [{"model": model, "verbose": False}],
    }


def leaf_paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every place in ``value``: containers and leaves, the whole body excepted."""
    if prefix:
        yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaf_paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaf_paths(item, (*prefix, index))


def replaced(body: Any, path: tuple[Any, ...], value: Any) -> Any:
    out = copy.deepcopy(body)
    node = out
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return out


def removed(body: Any, path: tuple[Any, ...]) -> Any:
    out = copy.deepcopy(body)
    node = out
    for step in path[:-1]:
        node = node[step]
    del node[path[-1]]
    return out


def encode(body: Any) -> bytes:
    """JSON as a client writes it; RAW_MARK strings become the raw literal after them."""
    text = json.dumps(body, ensure_ascii=True)
    for literal in RAW_LITERALS:
        text = text.replace(json.dumps(RAW_MARK + literal), literal)
    return text.encode("utf-8")


def _label(path: tuple[Any, ...]) -> str:
    return ".".join(str(step) for step in path)


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 24 else f"{type(value).__name__}[{len(text)}]"


def field_cases(route: str, body: dict[str, Any]) -> Iterator[Case]:
    """Every field replaced by every hostile value and raw literal, removed, and joined by
    an unknown field (where it is an object)."""
    for path in leaf_paths(body):
        where = f"{route} {_label(path)}"
        for value in HOSTILE:
            yield Case(
                f"{where}={_short(value)}", "POST", route, encode(replaced(body, path, value))
            )
        for literal in RAW_LITERALS:
            mutated = replaced(body, path, RAW_MARK + literal)
            yield Case(f"{where}={literal[:12]}", "POST", route, encode(mutated))
        yield Case(f"{where} removed", "POST", route, encode(removed(body, path)))
    for path in [(), *leaf_paths(body)]:
        node = body
        for step in path:
            node = node[step]
        if isinstance(node, dict):
            unknown = replaced({"": body}, ("", *path, "zz_unknown"), 1)[""]
            yield Case(f"{route} {_label(path)}+unknown", "POST", route, encode(unknown))


def byte_cases(route: str, body: dict[str, Any], max_body: int) -> Iterator[Case]:
    """The body as bytes gone wrong, and the request around it."""
    raw = encode(body)
    for cut in (0, 1, len(raw) // 3, len(raw) // 2, len(raw) - 1):
        yield Case(f"{route} truncated at {cut}", "POST", route, raw[:cut])
    yield Case(f"{route} invalid utf-8", "POST", route, raw.replace(b'"model"', b'"mo\xffdel"'))
    yield Case(f"{route} invalid utf-8 value", "POST", route, raw.replace(b'": "', b'": "\xc3\x28'))
    yield Case(f"{route} utf-16", "POST", route, raw.decode().encode("utf-16"))
    yield Case(f"{route} bom", "POST", route, b"\xef\xbb\xbf" + raw)
    yield Case(f"{route} latin-1 junk", "POST", route, bytes(range(256)))
    for top in (b"null", b"[]", b'"text"', b"1", b"true", b"[" + raw + b"]"):
        yield Case(f"{route} top-level {top[:8]!r}", "POST", route, top)
    yield Case(f"{route} duplicate keys", "POST", route, raw[:-1] + b', "model": 1}')
    yield Case(f"{route} deep array", "POST", route, b"[" * 200_000 + b"]" * 200_000)
    yield Case(
        f"{route} deep in field",
        "POST",
        route,
        raw[:-1] + b', "zz": ' + b'{"a":' * 100_000 + b"1" + b"}" * 100_000 + b"}",
    )
    yield Case(f"{route} over limit", "POST", route, b"{" + b" " * max_body + b"}")
    padding = max_body - len(raw) - 64
    yield Case(f"{route} at limit", "POST", route, raw[:-1] + b', "zz": "' + b"x" * padding + b'"}')
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        yield Case(f"{route} as {content_type}", "POST", route, raw, {"Content-Type": content_type})
    yield Case(
        f"{route} form body",
        "POST",
        route,
        b"model=x&prompt=y",
        {"Content-Type": "application/x-www-form-urlencoded"},
    )
    for method in ("GET", "PUT", "DELETE", "PATCH"):
        yield Case(f"{route} {method}", method, route, raw if method != "GET" else None)


def get_cases() -> Iterator[Case]:
    for path in ("/api/tags", "/api/ps", "/api/version", "/v1/models"):
        for method in ("POST", "PUT", "DELETE"):
            yield Case(f"{path} {method}", method, path, b"{}")
        yield Case(f"{path} query", "GET", path + "?x=" + "%ff" * 500 + "&y")
    for path in ("/api/pull", "/api/embed", "/api/../v1/models", "/api/" + "x" * 5000, "/v1/x"):
        yield Case(f"unknown {path[:20]}", "POST", path, b"{}")


def auth_cases(route: str, body: dict[str, Any]) -> Iterator[Case]:
    raw = encode(body)
    for value in ("", "Bearer", "Bearer ", "Basic YWxpY2U6eA==", "Bearer " + "k" * 10_000):
        yield Case(f"{route} auth {value[:12]!r}", "POST", route, raw, {"Authorization": value})


def all_cases(model: str, max_body: int, per_body: int) -> list[Case]:
    """The requests to send: a seeded draw of ``per_body`` field mutations for each
    valid body, then every named, byte-level, method, path and key case."""
    rng = random.Random(SEED)
    cases: list[Case] = []
    for route, bodies in valid_bodies(model).items():
        for body in bodies:
            mutations = [c for c in field_cases(route, body) if bounded(c)]
            cases += rng.sample(mutations, min(per_body, len(mutations)))
            cases += byte_cases(route, body, max_body)
        cases += auth_cases(route, bodies[0])
    cases += named_cases(model)
    cases += get_cases()
    return cases


def _int_like(value: Any) -> int | None:
    """The integer a lenient validator could read in ``value``."""
    if isinstance(value, bool | int):
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        return int(value)
    return None


def bounded(case: Case) -> bool:
    """False for a mutation that leaves a valid request without a token limit (null or
    absent max_tokens, num_predict 0 or -1): asking for a long answer is a client's
    right, and it would take minutes, not test hostility."""
    try:
        body = json.loads(case.body or b"")
    except ValueError:
        return True
    if not isinstance(body, dict):
        return True
    if case.path in ("/api/chat", "/api/generate"):
        if (case.path == "/api/chat" and not body.get("messages")) or (
            case.path == "/api/generate" and not body.get("prompt") and not body.get("context")
        ):
            return True  # loads or unloads the model, answers nothing
        options = body.get("options", None)
        if options is None or options == {}:
            return False
        if not isinstance(options, dict):
            return True
        if options.get("num_predict") is None:
            return False
        limit = _int_like(options["num_predict"])
        return limit is None or limit > 0  # not an integer: refused, quickly
    if case.path == "/v1/chat/completions":
        return any(body.get(k) is not None for k in ("max_tokens", "max_completion_tokens"))
    if case.path == "/v1/completions":
        return "max_tokens" not in body or body["max_tokens"] is not None  # absent: 16
    return True


def _recursive_schema(depth: int) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": {}}
    node = schema
    for _ in range(depth):
        child: dict[str, Any] = {"type": "object", "properties": {}}
        node["properties"]["a"] = child
        node = child
    return schema


# Tool parameter schemas and Ollama formats: recursive, huge, invalid, or odd.
ODD_SCHEMAS: list[Any] = [
    {"type": "object", "properties": {"a": {"$ref": "#"}}},
    {"$ref": "#/$defs/x", "$defs": {"x": {"anyOf": [{"$ref": "#/$defs/x"}]}}},
    {"type": "object", "properties": {"a": {"$ref": "#/$defs/missing"}}},
    {"type": "object", "properties": {"a": {"$ref": "http://example.com/s.json"}}},
    {"type": "object", "properties": {f"p{i}": {"type": "string"} for i in range(300)}},
    _recursive_schema(40),
    {"type": "object", "properties": {"a": {"type": "string", "pattern": "("}}},
    {"type": "object", "properties": {"a": {"type": "string", "pattern": "[z-a]"}}},
    {"type": "object", "properties": {"a": {"type": "string", "enum": []}}},
    {"type": "object", "properties": {"a": {"enum": [{"x": [1]}, None, 1.5]}}},
    {"type": "object", "properties": {"a": {"const": {"deep": [[[1]]]}}}},
    {"type": "object", "properties": {"a": {"type": "nonsense"}}},
    {"type": "object", "properties": {"a": {"type": ["string", "null", 5]}}},
    {"type": "object", "properties": ["a", "b"]},
    {"type": "object", "properties": {"a": 5}},
    {"type": "object", "properties": {"a": {"type": "array", "items": 5}}},
    {"type": "object", "properties": {"a": {"type": "array", "prefixItems": "x"}}},
    {"type": "object", "required": "a"},
    {"type": "object", "required": [{"x": 1}]},
    {"type": "object", "additionalProperties": "x"},
    {"type": "object", "properties": {"a": {"type": "integer", "minimum": "a"}}},
    {"type": "object", "properties": {"a": {"type": "integer", "minimum": 5, "maximum": 1}}},
    {"type": "object", "properties": {"a": {"type": "number", "minimum": 1e308}}},
    {"type": "object", "properties": {"a": {"type": "string", "minLength": 5, "maxLength": 1}}},
    {"type": "object", "properties": {"a": {"type": "string", "maxLength": 1.5}}},
    {"type": "object", "properties": {"a": {"type": "string", "format": "date-time"}}},
    {"type": "object", "properties": {"a": {"type": "string", "format": "nonsense"}}},
    {"type": "object", "properties": {"a": {"allOf": [{"type": "string"}, {"type": "integer"}]}}},
    {"type": "object", "properties": {"a": {"anyOf": []}}},
    {"type": "object", "properties": {"a": {"oneOf": "x"}}},
    {"type": "object", "properties": {"a": {"not": {"type": "string"}}}},
    {"type": "object", "properties": {"": {"type": "string"}, '\n"]': {"type": "string"}}},
    {"type": "object", "properties": {"a": {"type": "string"}}, "patternProperties": {"(": {}}},
    {"type": "object", "$schema": 5, "$id": [], "title": {}},
    {"type": "array", "items": {"type": "string"}},
    {"type": "string"},
    {"type": None},
    {"$ref": "#"},
    {"$defs": "x", "$ref": "#/$defs/"},
    {},
]


TOOL_CHOICES = ["auto", "required"]
OLLAMA_GENERATION = [
    ("/api/chat", {"messages": [{"role": "user", "content": "Olá"}]}),
    ("/api/generate", {"prompt": "Olá"}),
]
KEEP_ALIVES: list[Any] = [
    *("-1", "5x", 1e30, -1e30, "1e400", "", " ", "1h-5m", "9" * 40, "inf", "NaN", "-inf"),
    *("1.5.5s", "\uff11m", "5m" * 20, "0x10", "1_0s", True, [], {}, "-0", 5e-324, 2**64, "\x00"),
]
OLLAMA_OPTIONS = [
    *("temperature", "top_p", "top_k", "min_p", "seed", "num_predict", "stop"),
    *("repeat_penalty", "presence_penalty", "frequency_penalty", "repeat_last_n", "num_ctx"),
    *("typical_p", "mirostat", "mirostat_tau", "mirostat_eta", "num_keep", "num_batch"),
    *("num_gpu", "main_gpu", "num_thread", "numa", "low_vram", "f16_kv", "vocab_only"),
    *("use_mmap", "use_mlock", "logits_all", "embedding_only", "tfs_z", "penalize_newline"),
    "nonsense",
]


def _chat(model: str, **extra: Any) -> dict[str, Any]:
    body = {"model": model, "messages": [{"role": "user", "content": "Olá"}], "max_tokens": 2}
    return body | extra


def _tool(name: str = "f", parameters: Any = None) -> dict[str, Any]:
    function: dict[str, Any] = {"name": name}
    if parameters is not None:
        function["parameters"] = parameters
    return {"type": "function", "function": function}


def _call(call_id: Any = "c1", name: Any = "f", arguments: Any = "{}") -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def named_cases(model: str) -> Iterator[Case]:
    """The hostile requests a field-by-field mutation does not reach: whole tool schemas,
    tool conversations that do not hold together, Ollama's options and durations."""
    chat = "/v1/chat/completions"
    for i, schema in enumerate(ODD_SCHEMAS):
        # With the function named (its arguments alone), and as auto or required by turns.
        for choice in ({"type": "function", "function": {"name": "f"}}, TOOL_CHOICES[i % 2]):
            body = _chat(model, tools=[_tool("f", schema)], tool_choice=choice)
            yield Case(f"tool schema {i} choice {choice!s:.8}", "POST", chat, encode(body))
        # As response_format (streamed or not by turns) and as Ollama's format (on
        # /api/chat or /api/generate by turns).
        body = _chat(
            model,
            response_format={"type": "json_schema", "json_schema": {"schema": schema}},
            stream=i % 2 == 1,
        )
        yield Case(f"response schema {i}", "POST", chat, encode(body))
        route, extra = OLLAMA_GENERATION[i % 2]
        body = {"model": model, "format": schema, "options": {"num_predict": 2}}
        body |= extra | {"stream": False}
        yield Case(f"{route} format schema {i}", "POST", route, encode(body))
    tools = [_tool("f"), _tool("g", {"type": "object", "properties": {"x": {"type": "string"}}})]
    choices: list[Any] = [
        {"type": "function", "function": {"name": "missing"}},
        {"type": "function", "function": {}},
        {"type": "function"},
        {"type": "other", "function": {"name": "f"}},
        {"function": {"name": "f"}},
        "sometimes",
        ["auto"],
    ]
    for i, choice in enumerate(choices):
        yield Case(
            f"tool_choice {i}", "POST", chat, encode(_chat(model, tools=tools, tool_choice=choice))
        )
    yield Case(
        "tool_choice required, no tools", "POST", chat, encode(_chat(model, tool_choice="required"))
    )
    yield Case("tools empty list", "POST", chat, encode(_chat(model, tools=[], tool_choice="auto")))
    yield Case(
        "duplicate tool names", "POST", chat, encode(_chat(model, tools=[_tool("f"), _tool("f")]))
    )
    yield Case(
        "129 tools", "POST", chat, encode(_chat(model, tools=[_tool(f"f{i}") for i in range(129)]))
    )
    for name in ("", "a b", "x" * 65, "é", "f\n", "<tool_call>", '"', None, 5):
        body = _chat(model, tools=[_tool("f") | {"function": {"name": name}}])
        yield Case(f"tool name {name!r:.10}", "POST", chat, encode(body))
    conversations: list[list[dict[str, Any]]] = [
        [{"role": "tool", "content": "20 C"}],  # no id, no call before it
        [{"role": "tool", "tool_call_id": "nowhere", "content": "20 C"}],
        [{"role": "tool", "tool_call_id": None, "content": None}],
        [{"role": "tool", "tool_call_id": "c1", "content": [{"type": "text", "text": "x"}]}],
        [{"role": "assistant", "tool_calls": [_call(arguments="not json")]}],
        [{"role": "assistant", "tool_calls": [_call(arguments="[1, 2]")]}],
        [{"role": "assistant", "tool_calls": [_call(arguments='{"a": ' * 50_000)]}],
        [{"role": "assistant", "tool_calls": [_call(name="unknown\n</tool_call>")]}],
        [{"role": "assistant", "tool_calls": [_call(call_id=None)]}],
        [{"role": "assistant", "tool_calls": [{"function": {"name": "f"}}]}],
        [{"role": "assistant", "tool_calls": []}],
        [{"role": "assistant", "tool_calls": [_call()] * 129}],
        [{"role": "assistant", "tool_calls": [_call()], "content": [{"type": "refusal"}]}],
        [{"role": "user", "tool_calls": [_call()], "tool_call_id": "c1", "content": "x"}],
        [{"role": "system", "name": "\x00" * 10, "content": "x"}],
        [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}],
        [{"role": "user", "content": [{"type": "input_audio"}, {"type": "text"}]}],
        [{"role": "user", "content": [{"type": ["text"], "text": "x"}]}],
        [{"role": "user", "content": [None, 5, "x"]}],
        [{"role": "function", "name": "f", "content": "x"}],
    ]
    for i, messages in enumerate(conversations):
        for with_tools in (False, True):
            extra = {"tools": tools} if with_tools else {}
            body = _chat(model, **extra) | {
                "messages": [{"role": "user", "content": "Olá"}, *messages]
            }
            yield Case(f"tool conversation {i} tools {with_tools}", "POST", chat, encode(body))
    options = OLLAMA_OPTIONS
    values: list[Any] = ["x", -1, 1e30, None, [], True, 0.5]
    for r, (route, extra) in enumerate(OLLAMA_GENERATION):
        for i, name in enumerate(options):
            for j, value in enumerate(values):
                if (i + j + r) % 2:
                    continue  # each option and value on one of the two routes
                chosen = {"num_predict": 2, name: value}
                if name == "num_predict" and (_int_like(value) or 0) <= 0:
                    continue  # no limit: a long answer, a valid request
                body = {"model": model, "stream": False, "options": chosen} | extra
                yield Case(f"{route} options.{name}={value!r:.10}", "POST", route, encode(body))
        for k, keep in enumerate(KEEP_ALIVES):
            if (k + r) % 2:  # with a question on one route, bare on the other
                body = {"model": model, "stream": False, "keep_alive": keep} | extra
                body["options"] = {"num_predict": 1}
                yield Case(f"{route} keep_alive={keep!r:.12}", "POST", route, encode(body))
            else:  # nothing to answer: the model is loaded, or let go
                bare = {"model": model, "keep_alive": keep}
                yield Case(f"{route} bare keep_alive={keep!r:.12}", "POST", route, encode(bare))
        for fmt in ("JSON", "xml", 1, [], True, {"type": "string", "maxLength": 100_000}):
            body = {"model": model, "stream": False, "format": fmt, "options": {"num_predict": 2}}
            yield Case(f"{route} format={fmt!r:.10}", "POST", route, encode(body | extra))
        for model_name in ("", "x" * 300, model + ":latest", model + ":other", "../" + model):
            body = {"model": model_name, "stream": False, "options": {"num_predict": 1}} | extra
            yield Case(f"{route} model={model_name[:12]!r}", "POST", route, encode(body))
    generate = "/api/generate"
    for context in ([-1], [10**9], [2**64], [0] * 5000, [1.5], ["1"], [None], [[1]]):
        body = {"model": model, "prompt": "x", "context": context, "stream": False}
        body["options"] = {"num_predict": 1}
        yield Case(f"context={context!r:.12}", "POST", generate, encode(body))
    for name, value in (
        ("raw", True),
        ("suffix", "x"),
        ("template", "{{ x }}"),
        ("images", ["AA=="]),
        ("think", "high"),
        ("logprobs", True),
        ("top_logprobs", 99),
        ("system", "\x00" * 100),
        ("n", 3),
        ("best_of", 2),
        ("echo", True),
    ):
        body = {"model": model, "prompt": "x", name: value, "stream": False}
        body["options"] = {"num_predict": 1}
        yield Case(f"generate {name}={value!r:.10}", "POST", generate, encode(body))
    for extra in ({"images": ["AA=="]}, {"tool_calls": [{}]}, {"tool_name": "f"}, {"thinking": 5}):
        message = {"role": "user", "content": "x"} | extra
        body = {
            "model": model,
            "messages": [message],
            "stream": False,
            "options": {"num_predict": 1},
        }
        yield Case(f"/api/chat message {next(iter(extra))}", "POST", "/api/chat", encode(body))
    for show in (
        {},
        {"name": model},
        {"model": ""},
        {"model": None, "name": None},
        {"model": "x" * 300},
        {"model": model, "verbose": "yes"},
        {"model": [model]},
    ):
        yield Case(f"/api/show {show!r:.20}", "POST", "/api/show", encode(show))
