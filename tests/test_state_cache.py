"""Saved KV states: a restored conversation answers exactly as a re-evaluated one, only
the new tokens are evaluated (llama.cpp's counter), and a bad state file is never trusted."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from amalia_local.engine import ChatSession, Engine, LoadOptions, Message, SamplingOptions
from amalia_local.engine.llama_log import LlamaLogSink
from amalia_local.engine.state_cache import StateCache

GREEDY = SamplingOptions(temperature=0.0, max_tokens=24)
SYSTEM = "Responde sempre em português europeu, com frases curtas."


@pytest.fixture
def states(tmp_path: Path) -> Path:
    return tmp_path / "kv-states"


@pytest.fixture
def engines(llama_log: LlamaLogSink) -> Iterator[Callable[..., Engine]]:
    opened: list[Engine] = []

    def _open(model: Path, state_dir: Path | None, n_ctx: int = 512) -> Engine:
        engine = Engine.open(
            str(model), LoadOptions(n_ctx=n_ctx, n_threads=2), llama_log, state_dir=state_dir
        )
        opened.append(engine)
        return engine

    yield _open
    for engine in opened:
        engine.close()


def first_turn(engine: Engine, question: str) -> list[Message]:
    session = ChatSession(engine, system_prompt=SYSTEM)
    session.send(question, GREEDY).consume()
    return list(session.messages)


def continue_turn(engine: Engine, history: list[Message], question: str):
    reply = ChatSession(engine, system_prompt=SYSTEM, history=history).send(question, GREEDY)
    reply.consume()
    return reply


def state_files(states: Path) -> list[Path]:
    return sorted(states.glob("*/*.kv"))


@pytest.mark.parametrize("model_fixture", ["random_model", "smollm"])
def test_restored_state_gives_the_same_greedy_answer_evaluating_only_new_tokens(
    model_fixture, request, engines, states
):
    model = request.getfixturevalue(model_fixture)
    question = "Quantos dias tem uma semana? Explica com cuidado e em pormenor."
    history = first_turn(engines(model, states), question)
    assert state_files(states), "the first answer saved a state"

    # A new engine stands for a new process: nothing in memory, the state on disk.
    restored = continue_turn(engines(model, states), history, "E um ano?")
    fresh = continue_turn(engines(model, None), history, "E um ano?")

    assert restored.text == fresh.text
    assert fresh.stats.prompt_tokens_restored == 0
    assert fresh.stats.prompt_tokens_evaluated == fresh.stats.prompt_tokens
    stats = restored.stats
    assert stats.prompt_tokens_restored > 0
    assert stats.prompt_tokens_cached == stats.prompt_tokens_restored
    # llama.cpp's own count: only what the saved state did not hold went through the model.
    assert stats.prompt_tokens_evaluated == stats.prompt_tokens - stats.prompt_tokens_restored
    assert stats.prompt_tokens_evaluated < stats.prompt_tokens // 2


def test_system_prompt_state_serves_a_new_conversation(random_model, engines, states):
    first_turn(engines(random_model, states), "Olá")
    anchors = [p for p in state_files(states) if b'"anchor": true' in p.read_bytes()[:4096]]
    assert len(anchors) == 1
    for path in state_files(states):
        if path not in anchors:
            path.unlink()  # only the system prompt's state is left to start from

    engine = engines(random_model, states)
    reply = ChatSession(engine, system_prompt=SYSTEM).send("Outra pergunta, outra conversa", GREEDY)
    reply.consume()
    head = engine.chat_tokens(
        engine.template.render([Message("system", SYSTEM)], add_generation_prompt=False)
    )
    assert reply.stats.prompt_tokens_restored == len(head)
    assert reply.stats.prompt_tokens_evaluated == reply.stats.prompt_tokens - len(head)


def test_corrupted_state_is_ignored_and_reported(random_model, engines, states, llama_log):
    history = first_turn(engines(random_model, states), "Quantos dias tem uma semana?")
    for path in state_files(states):
        data = bytearray(path.read_bytes())
        data[-100] ^= 0xFF  # one flipped byte in the K/V data
        path.write_bytes(bytes(data))

    reply = continue_turn(engines(random_model, states), history, "E um ano?")
    fresh = continue_turn(engines(random_model, None), history, "E um ano?")
    assert reply.text == fresh.text
    assert reply.stats.prompt_tokens_restored == 0
    assert reply.stats.prompt_tokens_evaluated == reply.stats.prompt_tokens
    llama_log.stream.flush()
    log = llama_log.log_file.read_text(encoding="utf-8")
    assert "ignored saved KV state" in log and "checksum mismatch" in log


def test_state_made_for_other_settings_is_ignored_and_reported(
    random_model, engines, states, llama_log, tmp_path
):
    history = first_turn(engines(random_model, states), "Quantos dias tem uma semana?")
    engine = engines(random_model, states)
    assert engine.states is not None
    # A state from another identity (here: another KV type) lives in its own folder; one
    # that ends up in ours anyway must still be recognised by its header.
    longest = max(engine.states.states(), key=lambda s: s.n_tokens)
    payload = engine.states.read_payload(longest)
    assert payload is not None
    other = StateCache(tmp_path / "elsewhere", dict(engine.states.identity, kv_type="q4_0"))
    other.save(longest.tokens.tolist(), memoryview(payload))
    for path in state_files(states):
        path.unlink()
    (foreign,) = state_files(tmp_path / "elsewhere")
    moved = engine.states.directory / foreign.name
    foreign.replace(moved)

    reply = continue_turn(engine, history, "E um ano?")
    assert reply.stats.prompt_tokens_restored == 0
    assert reply.stats.prompt_tokens_evaluated == reply.stats.prompt_tokens
    llama_log.stream.flush()
    assert "made for other settings (kv_type)" in llama_log.log_file.read_text(encoding="utf-8")
    assert not moved.exists()


def test_budget_evicts_least_recently_used(tmp_path):
    reports: list[str] = []
    cache = StateCache(tmp_path, {"model": "m"}, budget_bytes=3 * 51_000, report=reports.append)
    payload = memoryview(bytes(50_000))
    past = time.time() - 100
    for n in (10, 20, 30):
        assert cache.save([n] * n, payload)
    for age, state in enumerate(sorted(cache.states(), key=lambda s: s.n_tokens)):
        os.utime(state.path, (past + age, past + age))  # saved in this order, seconds apart
    oldest = cache.best_match([10] * 10)
    assert oldest is not None
    cache.read_payload(oldest[0])  # used: now the most recent
    assert cache.save([40] * 40, payload)
    kept = sorted(s.n_tokens for s in cache.states())
    assert kept == [10, 30, 40]  # 20 was the least recently used
    assert not list(tmp_path.glob("*/*.tmp")) and not list(tmp_path.glob("*/.*"))


def test_saving_a_longer_state_replaces_its_prefixes_but_not_anchors(tmp_path):
    cache = StateCache(tmp_path, {"model": "m"})
    payload = memoryview(bytes(100))
    cache.save([1, 2, 3], payload, anchor=True)
    cache.save([1, 2, 3, 4, 5], payload)
    cache.save([1, 2, 3, 4, 5, 6, 7], payload)
    cache.save([1, 2, 9], payload)
    assert sorted(s.tokens.tolist() for s in cache.states()) == [
        [1, 2, 3],
        [1, 2, 3, 4, 5, 6, 7],
        [1, 2, 9],
    ]
    best = cache.best_match(np.array([1, 2, 3, 4, 5, 6, 8]))
    assert best is not None and best[1] == 6


def test_truncated_state_is_ignored(tmp_path):
    reports: list[str] = []
    cache = StateCache(tmp_path, {"model": "m"}, report=reports.append)
    cache.save([1, 2, 3], memoryview(bytes(1000)))
    (path,) = list(tmp_path.glob("*/*.kv"))
    path.write_bytes(path.read_bytes()[:-10])
    assert cache.best_match([1, 2, 3]) is None
    assert reports and "size does not match" in reports[0]


def test_state_too_long_for_the_context_is_skipped_not_deleted(tmp_path):
    cache = StateCache(tmp_path, {"model": "m"})
    cache.save(list(range(600)), memoryview(bytes(100)))
    assert cache.best_match(list(range(700)), max_tokens=512) is None
    assert cache.best_match(list(range(700)), max_tokens=1024)[1] == 600
