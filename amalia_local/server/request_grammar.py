"""A request's grammar: its JSON schema (OpenAI's ``response_format``, Ollama's
``format``) bounded and converted, one conversion at a time within a time budget, then
parsed by llama.cpp before the request is queued. Used by OpenAI's routes (also as the
text a tools answer may hold, tool_grammar.py) and Ollama's alike.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from starlette.concurrency import run_in_threadpool

from amalia_local.engine import Engine
from amalia_local.engine.grammar import GrammarError
from amalia_local.server import errors
from amalia_local.server.schema_limits import SchemaLimitError, check_schema
from amalia_local.server.schemas import ResponseFormat

# A JSON schema must convert to a grammar within this time (bounded schemas take
# milliseconds); one conversion at a time, so hostile schemas cannot occupy every worker.
GRAMMAR_BUDGET_S = 5.0


class GrammarSlot:
    """Runs one schema-to-grammar conversion at a time, each within ``budget_s``."""

    def __init__(self, budget_s: float = GRAMMAR_BUDGET_S) -> None:
        self.budget_s = budget_s
        self._slot = asyncio.Semaphore(1)

    async def convert(
        self, convert: Callable[[], str | None], param: str = "response_format.json_schema"
    ) -> str | None:
        """The grammar ``convert`` makes (None: none), converted in a worker within the budget."""
        budget = self.budget_s
        try:
            await asyncio.wait_for(self._slot.acquire(), budget)
        except TimeoutError:
            raise errors.grammar_busy(budget) from None
        # The slot is given back when the conversion ends, not when the request stops
        # waiting for it: a thread cannot be stopped, and one that ran past its budget
        # still holds a worker and a core, so the next schema waits for it.
        conversion = asyncio.ensure_future(run_in_threadpool(convert))
        conversion.add_done_callback(self._conversion_ended)
        try:
            return await asyncio.wait_for(asyncio.shield(conversion), budget)
        except TimeoutError:
            raise errors.bad_request(
                f"The JSON schema did not convert to a grammar within {budget:g} s "
                "(limit GRAMMAR_BUDGET_S); simplify it.",
                param=param,
                code="schema_too_complex",
            ) from None

    def _conversion_ended(self, conversion: asyncio.Future[str | None]) -> None:
        self._slot.release()
        if not conversion.cancelled():
            conversion.exception()  # read, so that an abandoned one is not logged as lost


def response_grammar(response_format: ResponseFormat | None) -> str | None:
    """Bounded schema to grammar (a worker thread; see schema_limits.py for the limits)."""
    from amalia_local.engine.grammar import json_grammar, schema_grammar

    if response_format is None or response_format.type == "text":
        return None
    if response_format.type == "json_object":
        return json_grammar()
    if response_format.json_schema is None:
        raise errors.bad_request(
            "response_format json_schema needs a 'json_schema' object.",
            param="response_format.json_schema",
        )
    schema = response_format.json_schema.schema_
    try:
        check_schema(schema)
    except SchemaLimitError as exc:
        raise errors.bad_request(
            f"The JSON schema is beyond this server's limit {exc.limit}: {exc}.",
            param="response_format.json_schema",
            code="schema_too_complex",
        ) from None
    try:
        return schema_grammar(schema)
    except GrammarError as exc:
        raise errors.invalid_schema(exc) from None


def check_grammar(engine: Engine, grammar: str | None, param: str | None = None) -> None:
    """llama.cpp's own parse of the grammar (none: nothing to check); ``param``: the
    field to blame when it fails (None: the GrammarError goes on, and lifecycle.submit
    blames response_format's)."""
    from amalia_local.engine.grammar import check_parses

    if grammar is None:
        return
    try:
        check_parses(engine, grammar)
    except GrammarError as exc:
        if param is None:
            raise
        raise errors.invalid_schema(exc, param=param) from None
