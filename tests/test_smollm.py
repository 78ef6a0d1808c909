"""The real SmolLM2-135M-Instruct GGUF (Llama architecture, ChatML, Q4_1)."""

from __future__ import annotations

import json

import llama_cpp

from amalia_local.engine import ChatSession, SamplingOptions, StopReason, llama_private

# A 135M model at 4 bits needs a plain system prompt to answer factual questions; with
# its template's default one it drifts into French (measured, temperature 0).
SYSTEM = "You are a helpful AI assistant."
GREEDY = SamplingOptions(temperature=0.0, max_tokens=48)


def test_run_answers_paris(amalia, smollm):
    result = amalia(
        "run",
        str(smollm),
        "What is the capital of France?",
        "--temperature",
        "0",
        "--system",
        SYSTEM,
        "--max-tokens",
        "48",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert "Paris" in payload["text"]
    assert payload["stats"]["stop_reason"] == "end"
    assert result.stderr == ""


def test_second_turn_evaluates_only_new_tokens(smollm, open_engine):
    engine = open_engine(smollm, n_ctx=2048)
    session = ChatSession(engine, system_prompt=SYSTEM)
    first = session.send("What is the capital of France?", GREEDY)
    assert "Paris" in first.consume()
    second = session.send("And of Portugal?", GREEDY)
    ctx = llama_private.raw_context(engine._llm)
    llama_cpp.llama_perf_context_reset(ctx)
    second.consume()
    seen_before = first.stats.prompt_tokens + first.stats.generated_tokens
    new_tokens = second.stats.prompt_tokens - seen_before
    assert 0 < new_tokens < 20
    assert second.stats.prompt_tokens_evaluated == new_tokens
    assert llama_cpp.llama_perf_context(ctx).n_p_eval == new_tokens
    assert second.stats.stop_reason in (StopReason.END, StopReason.LENGTH)


def test_streams_portuguese_without_broken_characters(smollm, open_engine):
    engine = open_engine(smollm, n_ctx=2048)
    reply = ChatSession(engine, system_prompt="Responde em português.").send(
        "Escreve uma frase com ç, ã e é.", SamplingOptions(temperature=0, max_tokens=40)
    )
    chunks = list(reply)
    assert len(chunks) > 5
    assert all("\ufffd" not in c for c in chunks)
