"""A schema conversion that outlives its budget keeps its slot until it really ends.

A worker thread cannot be stopped: the request that timed out is answered with a 400,
but its conversion runs on. If the slot were given back at the timeout, every slow
schema would add one more conversion running at once, and a client could occupy every
worker. In-process, over the real app and a real (slow, within the limits) schema: the
budget is made small so the test runs in seconds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest

from amalia_local.engine.llama_log import LlamaLogSink
from amalia_local.engine.options import LoadOptions
from amalia_local.server.app import ServerOptions, build_app
from amalia_local.server.host import HostSettings, ModelHost

pytestmark = pytest.mark.smollm

BUDGET_S = 0.02
# Within every limit of schema_limits.py, and about half a second to convert on a 2-core
# machine: 25 times the budget, so the first conversion still runs when the second asks.
SLOW = {
    "type": "object",
    "properties": {f"p{i}": {"type": "string", "pattern": "^[a-z]{1,400}$"} for i in range(250)},
}


@pytest.fixture
def host(smollm: Path, tmp_path: Path) -> Iterator[ModelHost]:
    with LlamaLogSink(tmp_path / "llama.log") as log:
        settings = HostSettings(
            model_path=str(smollm), name="m", load=LoadOptions(n_ctx=512, n_threads=2)
        )
        host = ModelHost(settings, log)
        host.load()
        yield host
        host.close()


def chat(response_format: dict) -> dict:
    return {
        "model": "m",
        "messages": [{"role": "user", "content": "Dá-me um objeto JSON."}],
        "max_tokens": 4,
        "temperature": 0,
        "response_format": response_format,
    }


def schema(value: dict) -> dict:
    return {"type": "json_schema", "json_schema": {"name": "s", "schema": value}}


async def scenario(host: ModelHost) -> list[tuple[int, dict, float]]:
    app = build_app(host, ServerOptions(grammar_budget_s=BUDGET_S))
    transport = httpx.ASGITransport(app=app)
    seen: list[tuple[int, dict, float]] = []
    async with httpx.AsyncClient(transport=transport, base_url="http://t", timeout=60) as c:
        for body in (chat(schema(SLOW)), chat(schema(SLOW))):
            started = time.monotonic()
            response = await c.post("/v1/chat/completions", json=body)
            seen.append((response.status_code, response.json(), time.monotonic() - started))
        await asyncio.sleep(3)  # the first conversion has ended by now
        response = await c.post("/v1/chat/completions", json=chat({"type": "json_object"}))
        seen.append((response.status_code, response.json(), 0.0))
    return seen


def test_a_timed_out_conversion_holds_its_slot_until_it_ends(host):
    (first, body1, _), (second, body2, waited), (third, _, _) = asyncio.run(scenario(host))
    assert first == 400 and body1["error"]["code"] == "schema_too_complex"
    # the first conversion still runs: the second waits its budget for the slot, then is
    # told the server is busy (before, it started a second conversion beside the first)
    assert second == 503 and body2["error"]["code"] == "grammar_busy", body2
    assert waited < 2
    assert third == 200  # the slot came back when the conversion ended
