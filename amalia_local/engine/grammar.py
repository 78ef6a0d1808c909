"""Grammars that force JSON output (the API's ``response_format``), from llama-cpp-python.

llama.cpp samples only tokens the grammar allows, so the answer parses by construction.
The schema converter never fetches a remote ``$ref`` (``allow_fetch=False`` inside
llama-cpp-python's ``json_schema_to_gbnf``): a request cannot make the server go online.

A grammar reaches llama.cpp only after two checks: its nesting depth (llama.cpp's parser
recurses once per nested group, and 20,000 levels overflow a thread's stack and kill the
process) and llama.cpp's own parse, done here on the caller's thread so a grammar it
refuses (left recursion, too many repetitions) is the client's 400, not a failed answer.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from amalia_local.engine.model import Engine

# Nested groups in a grammar. llama.cpp's parser (0.3.36) uses about 0.3-0.5 KB of stack
# per level: 1,000 levels parse on a 512 KB thread stack but not on 256 KB, and 20,000
# overflow the usual 8 MB. 1,024 levels stay 4x inside even a 2 MB thread stack.
MAX_GRAMMAR_DEPTH = 1024
# The grammar text itself (a bounded schema converts to far less).
MAX_GRAMMAR_BYTES = 1 << 20


class GrammarError(ValueError):
    """The schema uses something the converter cannot express, or the grammar is unsafe."""


def json_grammar() -> str:
    """Any JSON value (``json_object``)."""
    from amalia_local.engine.llama_private import json_gbnf

    return json_gbnf()


# llama-cpp-python's converter lets a string hold any character but a quote or a
# backslash, raw newlines and other control characters included: JSON that no strict
# parser reads (a client's json.loads of tool arguments fails). Its rule, made strict.
_LOOSE_CHAR = 'char ::= [^"\\\\] |'
_STRICT_CHAR = 'char ::= [^"\\\\\\x7F\\x00-\\x1F] |'


def schema_grammar(schema: dict[str, Any]) -> str:
    """A grammar for JSON that validates against ``schema`` (``json_schema``)."""
    from amalia_local.engine.llama_private import schema_gbnf

    try:
        gbnf = schema_gbnf(json.dumps(schema))
    except RecursionError as exc:
        raise GrammarError("schema nests too deeply") from exc
    except (AttributeError, TypeError) as exc:  # e.g. 'properties': 5, 'items': "x"
        # Python's own words ("'int' object has no attribute 'get'") tell a client nothing.
        raise GrammarError(
            "a keyword holds a value of the wrong type (e.g. 'properties' must map names "
            "to schemas, 'items' must be a schema, 'required' a list of names)"
        ) from exc
    except KeyError as exc:
        raise GrammarError(f"a keyword it needs is missing or empty ({exc})") from exc
    except Exception as exc:  # the converter raises bare ValueError/Exception
        raise GrammarError(str(exc) or type(exc).__name__) from exc
    gbnf = gbnf.replace(_LOOSE_CHAR, _STRICT_CHAR)
    check_shape(gbnf)
    return gbnf


# A rule with nothing after its "::=" (only blank lines before the next rule or the end):
# the converter writes one for a schema no value matches (an empty enum or anyOf). llama.cpp
# refuses it, but first writes the whole grammar, up to MAX_GRAMMAR_BYTES, to stderr: a
# client could fill the server's log a megabyte a request.
_EMPTY_RULE = re.compile(r"^[\w-]+[ \t]*::=\s*(?=^[\w-]+[ \t]*::=|\Z)", re.MULTILINE)


def check_shape(gbnf: str) -> None:
    """Refuse a grammar whose size or nesting could hurt llama.cpp's parser, or that it
    would refuse noisily."""
    if len(gbnf) > MAX_GRAMMAR_BYTES:
        raise GrammarError(f"the grammar would be larger than {MAX_GRAMMAR_BYTES} bytes")
    empty = _EMPTY_RULE.search(gbnf)
    if empty is not None:
        rule = empty.group(0).split("::=")[0].strip()
        raise GrammarError(
            f"no value can match part of it (rule '{rule[:64]}': an empty enum, anyOf or oneOf?)"
        )
    depth = grammar_depth(gbnf)
    if depth > MAX_GRAMMAR_DEPTH:
        raise GrammarError(
            f"the grammar would nest {depth} groups deep; at most {MAX_GRAMMAR_DEPTH}"
        )


def check_parses(engine: Engine, gbnf: str) -> None:
    """Parse ``gbnf`` with llama.cpp once (its shape already checked); refuse if it fails."""
    import llama_cpp

    check_shape(gbnf)
    sampler = llama_cpp.llama_sampler_init_grammar(engine._vocab, gbnf.encode("utf-8"), b"root")
    if not sampler:
        raise GrammarError("llama.cpp cannot use this grammar (left recursion or too large)")
    llama_cpp.llama_sampler_free(sampler)


def grammar_depth(gbnf: str) -> int:
    """The deepest nesting of groups in a GBNF text; quoted literals, character classes
    and comments are skipped (their brackets are characters)."""
    depth = deepest = 0
    i = 0
    n = len(gbnf)
    while i < n:
        c = gbnf[i]
        if c == '"':
            i += 1
            while i < n and gbnf[i] != '"':
                i += 2 if gbnf[i] == "\\" else 1
        elif c == "[":
            i += 1
            while i < n and gbnf[i] != "]":
                i += 2 if gbnf[i] == "\\" else 1
        elif c == "#":
            while i < n and gbnf[i] != "\n":
                i += 1
        elif c == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif c == ")":
            depth -= 1
        i += 1
    return deepest
