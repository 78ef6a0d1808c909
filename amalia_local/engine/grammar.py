"""Grammars that force JSON output (the API's ``response_format``), from llama-cpp-python.

llama.cpp samples only tokens the grammar allows, so the answer parses by construction.
The schema converter never fetches a remote ``$ref`` (``allow_fetch=False`` inside
llama-cpp-python's ``json_schema_to_gbnf``): a request cannot make the server go online.
"""

from __future__ import annotations

import json
from typing import Any

from llama_cpp import llama_grammar


class GrammarError(ValueError):
    """The schema uses something the converter cannot express."""


def json_grammar() -> str:
    """Any JSON value (``json_object``)."""
    return llama_grammar.JSON_GBNF


def schema_grammar(schema: dict[str, Any]) -> str:
    """A grammar for JSON that validates against ``schema`` (``json_schema``)."""
    try:
        return llama_grammar.json_schema_to_gbnf(json.dumps(schema))
    except RecursionError as exc:
        raise GrammarError("schema nests too deeply") from exc
    except Exception as exc:  # the converter raises bare KeyError/ValueError/Exception
        raise GrammarError(str(exc) or type(exc).__name__) from exc
