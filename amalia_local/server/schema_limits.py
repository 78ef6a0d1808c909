"""Bounds on a client's JSON schema, checked before it is turned into a grammar.

A schema is a program the server compiles: llama-cpp-python's converter writes a bounded
repetition (``maxLength``, ``maxItems``, a regex ``{n,m}``) as that many nested groups,
its time grows with the square of the number of properties, and llama.cpp's grammar
parser recurses once per nesting level on the thread that parses it. Each limit below
keeps one of those costs small; the values are far above what real schemas use (editor
tool schemas and Open WebUI's structured outputs have tens of properties, a few levels
of nesting, ``maxLength`` in the tens or hundreds) and far below what hurts. The checks
walk the schema iteratively, so a deep schema cannot exhaust Python's stack either.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

# The serialized schema (the converter's cost grows with it).
MAX_SCHEMA_BYTES = 64 * 1024
# Nesting of the schema document (objects and arrays inside each other).
MAX_SCHEMA_DEPTH = 32
# Properties over all objects of the schema (conversion is quadratic in them).
MAX_PROPERTIES = 256
# maxLength, minLength, maxItems, minItems: each becomes up to this many nested groups.
MAX_REPEAT = 500
# One repetition count in a ``pattern`` ({n}, {n,m}), and the pattern's whole expansion.
MAX_PATTERN_LENGTH = 1000
MAX_PATTERN_EXPANSION = 4096
# Integer bounds: the converter spells out digit ranges for minimum/maximum.
MAX_INTEGER_BOUND = 10**18

_REPEAT_KEYS = ("maxLength", "minLength", "maxItems", "minItems")
_BOUND_KEYS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")


@dataclass(frozen=True)
class SchemaLimitError(ValueError):
    """A schema beyond one of the limits; ``limit`` names it for the client."""

    limit: str
    message: str

    def __str__(self) -> str:
        return self.message


def check_schema(schema: Any) -> None:
    """Raise :class:`SchemaLimitError` if ``schema`` exceeds any limit above."""
    size = len(json.dumps(schema, ensure_ascii=False))
    if size > MAX_SCHEMA_BYTES:
        raise SchemaLimitError(
            "MAX_SCHEMA_BYTES",
            f"the schema is {size} bytes; at most {MAX_SCHEMA_BYTES} are accepted",
        )
    properties = 0
    todo: list[tuple[Any, int]] = [(schema, 1)]
    while todo:
        node, depth = todo.pop()
        if depth > MAX_SCHEMA_DEPTH:
            raise SchemaLimitError(
                "MAX_SCHEMA_DEPTH", f"the schema nests deeper than {MAX_SCHEMA_DEPTH} levels"
            )
        if isinstance(node, list):
            todo.extend((item, depth + 1) for item in node)
            continue
        if not isinstance(node, dict):
            continue
        if isinstance(node.get("properties"), dict):
            properties += len(node["properties"])
            if properties > MAX_PROPERTIES:
                raise SchemaLimitError(
                    "MAX_PROPERTIES", f"the schema has more than {MAX_PROPERTIES} properties"
                )
        for key in _REPEAT_KEYS:
            if key in node:
                _check_count(key, node[key], MAX_REPEAT, "MAX_REPEAT")
        for key in _BOUND_KEYS:
            value = node.get(key)
            if isinstance(value, int) and abs(value) > MAX_INTEGER_BOUND:
                raise SchemaLimitError(
                    "MAX_INTEGER_BOUND", f"{key} must be within ±{MAX_INTEGER_BOUND}"
                )
        if isinstance(node.get("pattern"), str):
            check_pattern(node["pattern"])
        _check_literals(node)
        todo.extend((value, depth + 1) for value in node.values())


def _check_literals(node: dict[str, Any]) -> None:
    """Property names and enum/const strings the converter can write into a grammar.

    llama-cpp-python's converter puts a string's JSON text into a grammar literal without
    escaping its backslashes: a quote or backslash in it breaks the grammar (llama.cpp
    then writes it all to stderr), a newline becomes a raw newline the JSON may not hold,
    a character beyond U+FFFF two halves no model writes; an empty property name takes
    the root rule's name, and the answer is held to the wrong grammar.
    """
    properties = node.get("properties")
    if isinstance(properties, dict):
        for name in properties:
            if not name:
                raise SchemaLimitError("LITERAL_TEXT", "a property name is empty")
            _check_text(name, "a property name")
    for key in ("enum", "const"):
        if key not in node:
            continue
        todo = [node[key]]
        while todo:
            value = todo.pop()
            if isinstance(value, str):
                _check_text(value, f"a string of {key}")
            elif isinstance(value, list):
                todo.extend(value)
            elif isinstance(value, dict):
                for name, item in value.items():
                    _check_text(name, f"a key of {key}")
                    todo.append(item)


def _check_text(text: str, what: str) -> None:
    for char in text:
        if char in '"\\' or ord(char) < 0x20 or ord(char) > 0xFFFF:
            raise SchemaLimitError(
                "LITERAL_TEXT",
                f"{what} ({json.dumps(text[:40])}) holds {json.dumps(char)}: quotes, "
                "backslashes, control characters and characters beyond U+FFFF cannot be "
                "written into a grammar here",
            )


def _check_count(key: str, value: Any, limit: int, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise SchemaLimitError(name, f"{key} must be a non-negative integer")
    if value > limit:
        raise SchemaLimitError(name, f"{key} is {value}; at most {limit} is accepted")


def check_pattern(pattern: str) -> None:
    """Bound a regex's repetition counts and the size of its expansion.

    ``(ab{3}){4}`` expands to 4 x (1 + 3) = 16 items: counts multiply through groups, so
    each level is summed and the group's total multiplied by the group's count.
    """
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise SchemaLimitError(
            "MAX_PATTERN_LENGTH",
            f"a pattern is {len(pattern)} characters; at most {MAX_PATTERN_LENGTH}",
        )
    # Each open group: [size so far, size of its last item]; index 0 is the whole pattern.
    stack: list[list[int]] = [[0, 0]]
    i = 0
    n = len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            i += 2
            _add_item(stack, 1)
            continue
        if c == "[":
            i = _skip_class(pattern, i)
            _add_item(stack, 1)
            continue
        if c == "(":
            stack.append([0, 0])
            i += 1
            continue
        if c == ")" and len(stack) > 1:
            size = stack.pop()[0]
            _add_item(stack, max(1, size))
            i += 1
            continue
        if c == "{":
            end = pattern.find("}", i)
            counts = pattern[i + 1 : end].split(",") if end > 0 else []
            if 1 <= len(counts) <= 2 and all(p.strip().isdigit() or p == "" for p in counts):
                numbers = [int(p) for p in counts if p.strip()]
                for number in numbers:
                    _check_count("a pattern repetition", number, MAX_REPEAT, "MAX_REPEAT")
                times = max(numbers, default=1)
                _repeat_last(stack, times)
                i = end + 1
                continue
        if c in "*+?|^$":
            i += 1
            continue
        _add_item(stack, 1)
        i += 1
    while len(stack) > 1:  # an unclosed group: the converter refuses it later
        size = stack.pop()[0]
        _add_item(stack, max(1, size))


def _add_item(stack: list[list[int]], size: int) -> None:
    top = stack[-1]
    top[0] += size
    top[1] = size
    _check_expansion(top[0])


def _repeat_last(stack: list[list[int]], times: int) -> None:
    top = stack[-1]
    top[0] += top[1] * (times - 1)
    top[1] *= times
    _check_expansion(top[0])


def _check_expansion(size: int) -> None:
    if size > MAX_PATTERN_EXPANSION:
        raise SchemaLimitError(
            "MAX_PATTERN_EXPANSION",
            f"a pattern expands to more than {MAX_PATTERN_EXPANSION} items",
        )


def _skip_class(pattern: str, i: int) -> int:
    """Index just after the character class starting at ``pattern[i] == '['``."""
    i += 1
    if i < len(pattern) and pattern[i] == "^":
        i += 1
    if i < len(pattern) and pattern[i] == "]":
        i += 1
    while i < len(pattern) and pattern[i] != "]":
        i += 2 if pattern[i] == "\\" else 1
    return i + 1
