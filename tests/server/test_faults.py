"""Faults injected into the decode loop: the failing requests get errors, the others finish.

In-process, over the real SmolLM2 model and the real app; the fault enters through
BatchGenerator.after_decode, the seam the loop calls after every llama_decode that
succeeded: what the hook returns stands for llama_decode's status, what it raises for an
exception there. After, not instead: the batch's cells are then really in the KV cache,
as after a decode that failed part-way, and the loop must drop them (a survivor whose
cells were left twice would answer differently from when it is alone).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx  # what the openai client (test extras) brings
import llama_cpp
import pytest

from amalia_local.engine import batch as batch_module
from amalia_local.engine.llama_log import LlamaLogSink
from amalia_local.engine.options import LoadOptions
from amalia_local.server.app import ServerOptions, build_app
from amalia_local.server.host import HostSettings, ModelHost

pytestmark = pytest.mark.smollm

FAILING_SEED = 666  # the marked request: the hook fails every batch holding it
RAISING_SEED = 667


@pytest.fixture
def host(smollm: Path, tmp_path: Path) -> Iterator[ModelHost]:
    with LlamaLogSink(tmp_path / "llama.log") as log:
        settings = HostSettings(
            model_path=str(smollm),
            name="m",
            load=LoadOptions(n_ctx=1024, n_threads=2),
            parallel=2,
        )
        host = ModelHost(settings, log)
        host.load()
        yield host
        host.close()


def marked_fault(sequences) -> int:
    seeds = {s.request.sampling.seed for s in sequences}
    if RAISING_SEED in seeds:
        raise RuntimeError("injected fault")
    return 1 if FAILING_SEED in seeds else 0


def body(seed: int | None = None, stream: bool = False, max_tokens: int = 24) -> dict:
    return {
        "model": "m",
        "prompt": "1\n2\n3\n4\n5\n6\n",
        "temperature": 0,
        "max_tokens": max_tokens,
        "seed": seed,
        "stream": stream,
    }


async def ask_all(host: ModelHost, bodies: list[dict]) -> list[httpx.Response]:
    app = build_app(host, ServerOptions())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test", timeout=300) as c:
        return list(await asyncio.gather(*(c.post("/v1/completions", json=b) for b in bodies)))


async def health(host: ModelHost) -> httpx.Response:
    app = build_app(host, ServerOptions())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        return await c.get("/health")


@pytest.mark.parametrize("seed", [FAILING_SEED, RAISING_SEED])
def test_failed_decode_fails_only_its_request(host, seed):
    (alone,) = asyncio.run(ask_all(host, [body()]))
    assert alone.status_code == 200
    host.load().after_decode = marked_fault
    good, bad, streamed_bad = asyncio.run(
        ask_all(host, [body(max_tokens=48), body(seed), body(seed, stream=True)])
    )
    assert bad.status_code == 500 and bad.json()["error"]["type"] == "server_error"
    events = [line for line in streamed_bad.text.splitlines() if line.startswith("data: ")]
    assert "error" in json.loads(events[-2][6:]) and events[-1] == "data: [DONE]"
    assert good.status_code == 200
    # The survivor's answer is the one it gets alone (its cells were not disturbed).
    assert good.json()["choices"][0]["text"].startswith(alone.json()["choices"][0]["text"])
    assert good.json()["usage"]["completion_tokens"] == 48
    # Their sequences were freed and the loop goes on.
    assert host.status()["slots_processing"] == 0
    assert asyncio.run(health(host)).status_code == 200
    (after,) = asyncio.run(ask_all(host, [body()]))
    assert after.status_code == 200


def test_a_request_that_fails_before_decoding_frees_its_sampler(host, monkeypatch):
    """A saved state that cannot be read fails the request before its slot exists; the
    sampler chain made for it (a grammar's can hold megabytes) is freed all the same."""
    freed: list[object] = []
    free = llama_cpp.llama_sampler_free

    def counted_free(sampler):
        freed.append(sampler)
        free(sampler)

    def unreadable_state(*_args):
        raise OSError("injected: a saved state that cannot be read")

    monkeypatch.setattr(llama_cpp, "llama_sampler_free", counted_free)
    monkeypatch.setattr(batch_module, "prepare", unreadable_state)
    (failed,) = asyncio.run(ask_all(host, [body()]))
    assert failed.status_code == 500
    assert len(freed) == 1
    monkeypatch.undo()
    (after,) = asyncio.run(ask_all(host, [body()]))
    assert after.status_code == 200


def test_a_loop_that_cannot_go_on_says_so(host):
    host.load().after_decode = lambda _sequences: -1  # every decode fails: a broken context
    responses = [asyncio.run(ask_all(host, [body()]))[0] for _ in range(3)]
    assert [r.status_code for r in responses] == [500, 500, 500]
    status = asyncio.run(health(host))
    assert status.status_code == 503 and status.json()["status"] == "error"
    (refused,) = asyncio.run(ask_all(host, [body()]))
    assert refused.status_code == 503
    assert refused.json()["error"]["code"] == "server_unavailable"
