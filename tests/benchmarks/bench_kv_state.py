"""Saved KV states and KV-cache types on SmolLM2, with the figures projected to AMALIA-9B.

Targets (issue 14):
* continuing a ~1,500-token conversation in a new process reaches the first token in at
  most 25% of the time a full re-evaluation takes (state load included);
* state file size and load time per 1,000 tokens, projected to AMALIA-9B by its KV size
  (42 layers x 8 KV heads x 128 x 2 (K, V) x 2 bytes = 172,032 bytes per token in f16);
* KV q8_0 keeps generation tokens/s within 5% of f16; its KL divergence from the f16
  logits on quant/data/eval_pt.txt (quant's metric, quant/evaluate.py) is reported.

    python tests/benchmarks/bench_kv_state.py [MODEL.gguf] [--reps 3] [--threads N]

The time to first token comes from ``amalia run --json`` (stats.time_to_first_token_s:
prompt preparation, state load and evaluation) in fresh processes, alternating the two
sides. Generation speed is Engine.time_generation (one token per decode, as generation
does) on the same 128 tokens for each type, alternating types between repetitions.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench_common import amalia_run_stats
from fetch_smollm import ensure_smollm

from amalia_local.conversations import ConversationStore
from amalia_local.engine import Engine, LoadOptions
from amalia_local.engine.kv_memory import KvMemory
from amalia_local.engine.llama_log import LlamaLogSink
from amalia_local.engine.state_cache import StateCache
from amalia_local.fit import model_facts
from amalia_local.fit.memory import kv_bytes_per_token
from amalia_local.hardware import physical_cores
from amalia_local.kv_type import KvType
from amalia_local.model_file import inspect
from quant.evaluate import Reference, make_windows, open_for_logits, tokenize_text

AMALIA_KV_BYTES_PER_TOKEN = 42 * 8 * 128 * 2 * 2
EVAL_TEXT = Path(__file__).resolve().parents[2] / "quant" / "data" / "eval_pt.txt"
CTX = 4096


def conversation_turns() -> list[tuple[str, str]]:
    """~1,500 tokens of pt-PT questions (from the evaluation text) and short answers."""
    paragraphs = [p.strip() for p in EVAL_TEXT.read_text(encoding="utf-8").split("\n\n")]
    paragraphs = [p for p in paragraphs if len(p) > 200]
    turns = []
    for i, paragraph in enumerate(paragraphs[:6]):
        question = f"Resume este parágrafo numa frase:\n\n{paragraph}"
        answer = f"Resumo {i + 1}: o parágrafo fala de {paragraph.split('.')[0][:120].lower()}."
        turns.append((question, answer))
    return turns


def first_token_stats(home: Path, model: Path, threads: int, question: str, conv: int) -> dict:
    return amalia_run_stats(
        model,
        question,
        threads=threads,
        ctx=CTX,
        max_tokens=1,
        home=str(home),
        extra=("--conversation", str(conv)),
    )


def make_home(root: Path, name: str, state_cache_gb: float) -> tuple[Path, int]:
    home = root / name
    (home / "config").mkdir(parents=True)
    (home / "config" / "config.toml").write_text(f"state_cache_gb = {state_cache_gb}\n")
    store = ConversationStore.in_dir(home / "data")
    conversation = store.create("bench")
    for question, answer in conversation_turns():
        store.add_message(conversation, "user", question)
        store.add_message(conversation, "assistant", answer)
    store.close()
    return home, conversation


def bench_continue(model: Path, threads: int, reps: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        saving, conv_a = make_home(root, "saving", 4.0)
        plain, conv_b = make_home(root, "plain", 0.0)
        # Prime: the first run after the conversation was written evaluates it and saves.
        primed = first_token_stats(saving, model, threads, "Obrigado.", conv_a)
        print(f"conversation: {primed['prompt_tokens']} tokens")
        cont, full = [], []
        for i in range(reps):
            q = f"Qual foi o resumo número {i + 1}?"
            a = first_token_stats(saving, model, threads, q, conv_a)
            b = first_token_stats(plain, model, threads, q, conv_b)
            cont.append(a["time_to_first_token_s"])
            full.append(b["time_to_first_token_s"])
            print(
                f"  rep {i + 1}: continue {a['time_to_first_token_s']:.3f} s "
                f"(restored {a['prompt_tokens_restored']}, evaluated "
                f"{a['prompt_tokens_evaluated']}) | full {b['time_to_first_token_s']:.3f} s "
                f"(evaluated {b['prompt_tokens_evaluated']})"
            )
        c, f = statistics.median(cont), statistics.median(full)
        print(
            f"time to first token, median: continue {c:.3f} s vs full re-evaluation {f:.3f} s"
            f" = {c / f:.1%} (target <= 25%)"
        )


def bench_state_file(model: Path, threads: int, log: LlamaLogSink) -> None:
    per_token = kv_bytes_per_token(model_facts(inspect(model)), KvType.F16)
    scale = AMALIA_KV_BYTES_PER_TOKEN / per_token
    with (
        tempfile.TemporaryDirectory() as tmp,
        Engine.open(str(model), LoadOptions(n_ctx=CTX, n_threads=threads), log) as engine,
    ):
        tokens = engine.sample_tokens(1500)
        engine.time_prompt(tokens)  # the cache now holds 1,500 tokens
        kv = KvMemory(engine._llm)
        cache = StateCache(Path(tmp), {"model": "bench"})
        snapshot = kv.snapshot()
        started = time.perf_counter()
        cache.save(tokens, snapshot)
        save_s = time.perf_counter() - started
        (state,) = cache.states()
        size = state.path.stat().st_size
        loads = []
        for _ in range(5):
            fd = os.open(state.path, os.O_RDONLY)  # drop it from the page cache: a cold read
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            os.close(fd)
            started = time.perf_counter()
            payload = cache.read_payload(state)
            assert payload is not None and kv.restore(payload, tokens)
            loads.append(time.perf_counter() - started)
        load_s = statistics.median(loads)
    k = 1000 / len(tokens)
    print(
        f"state file: {size * k / 1e6:.1f} MB per 1,000 tokens, load {load_s * k * 1000:.0f} ms"
        f" per 1,000 tokens (read + checksum + llama_state_seq_set_data; save "
        f"{save_s * k * 1000:.0f} ms per 1,000)"
    )
    print(
        f"projected to AMALIA-9B (x{scale:.2f} KV bytes per token): "
        f"{size * k * scale / 1e6:.0f} MB and ~{load_s * k * scale * 1000:.0f} ms per 1,000 "
        f"tokens; a 3,000-token conversation: {3 * size * k * scale / 1e9:.2f} GB, "
        f"~{3 * load_s * k * scale:.1f} s to load"
    )


def bench_generation(model: Path, threads: int, reps: int, log: LlamaLogSink) -> None:
    engines = {
        kv: Engine.open(str(model), LoadOptions(n_ctx=CTX, n_threads=threads, kv_type=kv), log)
        for kv in (KvType.F16, KvType.Q8_0)
    }
    try:
        tokens = engines[KvType.F16].sample_tokens(128)
        rates: dict[KvType, list[float]] = {kv: [] for kv in engines}
        for _ in range(reps):
            for kv, engine in engines.items():
                rates[kv].append(len(tokens) / engine.time_generation(tokens))
        f16, q8 = (statistics.median(rates[k]) for k in (KvType.F16, KvType.Q8_0))
        print(
            f"generation: f16 {f16:.1f} tokens/s, q8_0 (flash attention) {q8:.1f} tokens/s"
            f" = {q8 / f16:.1%} of f16 (target >= 95%); runs f16 "
            f"{[round(r, 1) for r in rates[KvType.F16]]}, q8_0 "
            f"{[round(r, 1) for r in rates[KvType.Q8_0]]}"
        )
    finally:
        for engine in engines.values():
            engine.close()


def bench_abort_overhead(model: Path, threads: int, reps: int, log: LlamaLogSink) -> None:
    """Prompt speed with the abort callback installed (as the engine does) and without."""
    with Engine.open(str(model), LoadOptions(n_ctx=CTX, n_threads=threads), log) as engine:
        tokens = engine.sample_tokens(1024)
        kv = KvMemory(engine._llm)
        plain, watched = [], []
        for _ in range(reps):
            plain.append(len(tokens) / engine.time_prompt(tokens))
            with kv.abortable(threading.Event()):
                watched.append(len(tokens) / engine.time_prompt(tokens))
        a, b = statistics.median(plain), statistics.median(watched)
        print(f"prompt: {a:.0f} tokens/s without the abort callback, {b:.0f} with it ({b / a:.1%})")


def kl_against_f16(model: Path, threads: int, log: LlamaLogSink) -> None:
    n_ctx = 512

    with (
        tempfile.TemporaryDirectory() as tmp,
        open_for_logits(model, n_ctx, threads, log, KvType.F16) as reference_llm,
    ):
        tokens, prefix = tokenize_text(reference_llm, EVAL_TEXT.read_text(encoding="utf-8"))
        windows = make_windows(tokens, prefix, n_ctx)
        reference = Reference(reference_llm, windows, Path(tmp))
        for kv in (KvType.Q8_0, KvType.Q4_0):
            with open_for_logits(model, n_ctx, threads, log, kv) as llm:
                whole = reference.compare(llm).whole
            print(
                f"KL(f16 || {kv.value}) on eval_pt.txt ({whole.n_tokens} tokens, windows of "
                f"{n_ctx}): mean {whole.kl_mean:.5f}, p99 {whole.kl_p99:.4f}, top-1 "
                f"agreement {whole.top1:.1%}, perplexity {whole.perplexity:.3f}"
            )
        print(f"  f16 perplexity {reference.compare(None).whole.perplexity:.3f}")
        reference.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", type=Path)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=physical_cores())
    parser.add_argument("--only", choices=["continue", "state", "generation", "kl"])
    args = parser.parse_args()
    model = args.model or ensure_smollm()
    print(f"model {model.name}, {args.threads} threads")
    with LlamaLogSink(Path(tempfile.gettempdir()) / "bench_kv_state.log") as log:
        if args.only in (None, "continue"):
            bench_continue(model, args.threads, args.reps)
        if args.only in (None, "state"):
            bench_state_file(model, args.threads, log)
        if args.only in (None, "generation"):
            bench_generation(model, args.threads, args.reps, log)
            bench_abort_overhead(model, args.threads, args.reps, log)
        if args.only in (None, "kl"):
            kl_against_f16(model, args.threads, log)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
