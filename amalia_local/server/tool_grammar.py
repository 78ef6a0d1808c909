"""The grammar of an answer to a request with tools: calls whose arguments match their
function's parameter schema, or (``tool_choice: auto``) a text answer instead, or only
text (``none``: the tools stay in the prompt, but cannot be called).

Each function's parameters become a grammar of their own through the same converter and
limits as ``response_format`` (schema_limits.py, engine/grammar.py); their rules are
renamed apart (``t0-root``, ``t1-char`` ...) and joined under one root that spells the
call format of tools.py around them. The function name is a literal of the grammar, so
the model can only call functions it was given, with arguments valid for that function.
"""

from __future__ import annotations

import json
from typing import Any

from amalia_local.engine.grammar import GrammarError, check_shape, schema_grammar
from amalia_local.server import errors
from amalia_local.server.schema_limits import MAX_SCHEMA_BYTES, SchemaLimitError, check_schema
from amalia_local.server.tools import (
    ARGS_OPEN,
    CALL_CLOSE,
    CALL_OPEN,
    CALL_SEPARATOR,
    ToolPlan,
)

# All the tools' schemas together: each is bounded alone by check_schema, and the
# conversion time grows with their sum, so the sum is bounded too (16 large tools).
MAX_TOOLS_BYTES = 16 * MAX_SCHEMA_BYTES
# Any character: a text answer is free.
_ANY = r"[^\x00]"
# A text answer may not begin like a call: a model that writes "<tool" first means to call
# (small ones then drift into "<tool_response>"), and the grammar holds it to the format.
TEXT_NEVER_STARTS = "<tool"
_NAME_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-"


def tools_grammar(plan: ToolPlan, text_grammar: str | None) -> str:
    """GBNF for ``plan``'s answer; ``text_grammar`` (a response_format's) constrains the
    text alternative of ``auto``. Raises a 400 APIError naming the tool at fault."""
    callable_tools = plan.callable_tools()
    checked = []
    total = 0
    for index, tool in enumerate(plan.tools):  # all of them, before converting any
        param = f"tools.{index}.function.parameters"
        schema = parameters_schema(tool.function.parameters, param)
        total += len(json.dumps(schema))
        if total > MAX_TOOLS_BYTES:
            raise errors.bad_request(
                f"The tools' parameter schemas add up to more than {MAX_TOOLS_BYTES} bytes "
                "(limit MAX_TOOLS_BYTES).",
                param="tools",
                code="schema_too_complex",
            )
        try:
            check_schema(schema)
        except SchemaLimitError as exc:
            raise errors.bad_request(
                f"The parameter schema of '{tool.function.name}' is beyond this server's "
                f"limit {exc.limit}: {exc}.",
                param=param,
                code="schema_too_complex",
            ) from None
        checked.append((tool, schema, param))
    calls: list[str] = []
    rules: list[str] = []
    for tool, schema, param in checked:
        try:
            arguments = schema_grammar(schema)
        except GrammarError as exc:
            raise errors.invalid_schema(exc, param=param) from None
        if tool not in callable_tools:
            continue  # converted all the same: a tool no grammar can be made of is a 400
        prefix = f"t{len(calls)}-"
        rules.append(rename_rules(arguments, prefix))
        calls.append(f"{_literal(tool.function.name + ARGS_OPEN)} {prefix}root")
    if not plan.calls:  # the tools were checked all the same: a bad one is a 400 anyway
        return text_grammar or f"root ::= {not_starting_with(TEXT_NEVER_STARTS)}\n"
    call = f"{_literal(CALL_OPEN)} ({' | '.join(calls)}) {_literal('}' + CALL_CLOSE)}"
    many = f" ({_literal(CALL_SEPARATOR)} call)*" if plan.parallel else ""
    root = "call" + many
    if plan.choice == "auto":
        if text_grammar is not None:
            rules.append(rename_rules(text_grammar, "text-"))
            root = f"({root}) | text-root"
        else:
            rules.append(f"text ::= {not_starting_with(TEXT_NEVER_STARTS)}")
            root = f"({root}) | text"
    gbnf = "\n".join([f"root ::= {root}", f"call ::= {call}", *rules]) + "\n"
    try:
        check_shape(gbnf)
    except GrammarError as exc:
        raise errors.invalid_schema(exc, param="tools") from None
    return gbnf


def parameters_schema(parameters: dict[str, Any] | None, param: str) -> dict[str, Any]:
    """The schema of a function's arguments: a JSON object, as OpenAI requires. None or
    ``{}`` is a function without arguments (the empty object)."""
    if not parameters:
        return {"type": "object", "properties": {}, "additionalProperties": False}
    kind = parameters.get("type")
    if kind != "object" and not (kind is None and "properties" in parameters):
        raise errors.invalid_schema(
            "a function's parameters must be a JSON schema of type 'object'", param=param
        )
    return parameters


def not_starting_with(marker: str) -> str:
    """Any non-empty text that does not begin with ``marker``: it differs from it at
    some character, or is a shorter beginning of it."""
    alternatives = []
    for i, char in enumerate(marker):
        head = _literal(marker[:i]) + " " if i else ""
        alternatives.append(f"{head}[^{_class_char(char)}] {_ANY}*")
        if i:
            alternatives.append(_literal(marker[:i]))
    return " | ".join(alternatives)


def rename_rules(gbnf: str, prefix: str) -> str:
    """``gbnf`` with every rule name prefixed: literals, character classes, repetition
    counts and comments are copied as they are."""
    out: list[str] = []
    i = 0
    n = len(gbnf)
    while i < n:
        c = gbnf[i]
        if c in '"[':
            end = _skip_quoted(gbnf, i, '"' if c == '"' else "]")
            out.append(gbnf[i:end])
            i = end
        elif c == "{":
            end = gbnf.index("}", i) + 1
            out.append(gbnf[i:end])
            i = end
        elif c == "#":
            end = gbnf.find("\n", i)
            end = n if end < 0 else end
            out.append(gbnf[i:end])
            i = end
        elif c in _NAME_CHARS or c == "_":
            start = i
            while i < n and (gbnf[i] in _NAME_CHARS or gbnf[i] == "_"):
                i += 1
            out.append(prefix + gbnf[start:i])
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _skip_quoted(gbnf: str, i: int, close: str) -> int:
    """Index just after the literal or class starting at ``gbnf[i]``."""
    i += 1
    while i < len(gbnf) and gbnf[i] != close:
        i += 2 if gbnf[i] == "\\" else 1
    return i + 1


def _literal(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _class_char(char: str) -> str:
    return "\\" + char if char in "]^\\-" else char.replace("\n", "\\n")
