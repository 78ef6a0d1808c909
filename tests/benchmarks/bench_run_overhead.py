"""Speed of ``amalia run`` against a bare llama-cpp-python loop, side by side.

Target (issue 2): through ``amalia run``, generation and prompt tokens/s are at least 97%
of what a bare ``Llama.generate`` loop gets with the same model, threads and settings.

Both sides run in fresh subprocesses (cold KV cache, same memory state), alternating, on
the same rendered ChatML prompt; rates are computed the same way on both sides: prompt
tokens / time to first token, and (tokens sampled - 1) / time from first to last token.
We report the median and the best run of each side, and the median of the per-pair ratios
(each amalia run divided by the bare run just before it): on this VM single runs vary by
±10-15%, and pairing cancels the slow drifts of the machine. Read all three together.

    python tests/benchmarks/bench_run_overhead.py [MODEL.gguf] [--reps 5] [--threads N]

MODEL defaults to the SmolLM2-135M GGUF the tests fetch (tests/.models/).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench_common import LISBON, SYSTEM, amalia_run_stats
from fetch_smollm import ensure_smollm

from amalia_local.hardware import physical_cores

QUESTION = " ".join([LISBON] * 6)
CTX = 2048
MAX_TOKENS = 192

BARE = textwrap.dedent(
    """
    import json, sys, time
    import llama_cpp
    from amalia_local.engine.llama_private import raw_vocab
    model, threads, ctx, max_tokens, system, question = sys.argv[1:7]
    threads, ctx, max_tokens = int(threads), int(ctx), int(max_tokens)
    llm = llama_cpp.Llama(model, n_ctx=ctx, n_threads=threads, n_threads_batch=threads,
                          n_batch=512, verbose=False)
    prompt = ("<|im_start|>system\\n" + system + "<|im_end|>\\n<|im_start|>user\\n" + question
              + "<|im_end|>\\n<|im_start|>assistant\\n")
    tokens = llm.tokenize(prompt.encode(), add_bos=False, special=True)
    vocab = raw_vocab(llm)
    sampled = 0
    start = time.perf_counter()
    first = last = start
    for token in llm.generate(tokens, temp=0.0, top_k=40, top_p=0.9, min_p=0.05,
                              repeat_penalty=1.0):
        last = time.perf_counter()
        sampled += 1
        if sampled == 1:
            first = last
        if llama_cpp.llama_vocab_is_eog(vocab, token) or sampled >= max_tokens:
            break
    print(json.dumps({"prompt_tokens": len(tokens), "sampled": sampled,
                      "prompt_tps": len(tokens) / (first - start),
                      "gen_tps": (sampled - 1) / (last - first)}))
    """
)


def bare_run(model: Path, threads: int) -> dict[str, float]:
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            BARE,
            str(model),
            str(threads),
            str(CTX),
            str(MAX_TOKENS),
            SYSTEM,
            QUESTION,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def amalia_run(model: Path, threads: int) -> dict[str, float]:
    stats = amalia_run_stats(model, QUESTION, threads=threads, ctx=CTX, max_tokens=MAX_TOKENS)
    return {
        "prompt_tokens": stats["prompt_tokens"],
        "sampled": stats["sampled_tokens"],
        "prompt_tps": stats["prompt_tokens_per_second"],
        "gen_tps": stats["generation_tokens_per_second"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", type=Path)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=physical_cores())
    args = parser.parse_args()
    model = args.model or ensure_smollm()

    bare: list[dict[str, float]] = []
    ours: list[dict[str, float]] = []
    for i in range(args.reps):
        bare.append(bare_run(model, args.threads))
        ours.append(amalia_run(model, args.threads))
        print(
            f"rep {i + 1}: bare gen {bare[-1]['gen_tps']:.1f} t/s, "
            f"amalia gen {ours[-1]['gen_tps']:.1f} t/s",
            file=sys.stderr,
        )

    def med(runs: list[dict[str, float]], key: str) -> float:
        return statistics.median(r[key] for r in runs)

    def best(runs: list[dict[str, float]], key: str) -> float:
        return max(r[key] for r in runs)

    print(
        f"model {model.name}, threads {args.threads}, ctx {CTX}, greedy, "
        f"{args.reps} alternating runs"
    )
    print(
        f"prompt tokens: bare {bare[0]['prompt_tokens']}, amalia {ours[0]['prompt_tokens']}; "
        f"tokens sampled: bare {bare[0]['sampled']}, amalia {ours[0]['sampled']}"
    )
    print(f"{'metric':<30}{'llama-cpp-python':>18}{'amalia run':>14}{'ratio':>9}{'target':>9}")
    verdict = 0
    rows: list[tuple[str, float | None, float]] = []
    for key, label in (("prompt_tps", "prompt tokens/s"), ("gen_tps", "generation tokens/s")):
        rows.append((f"{label}, median", med(bare, key), med(ours, key)))
        rows.append((f"{label}, best", best(bare, key), best(ours, key)))
    for key, label in (("prompt_tps", "prompt tokens/s"), ("gen_tps", "generation tokens/s")):
        paired = statistics.median(o[key] / b[key] for b, o in zip(bare, ours, strict=True))
        rows.append((f"{label}, paired median", None, paired))
    for label, b, o in rows:
        ratio = o if b is None else o / b
        ok = ratio >= 0.97
        verdict |= 0 if ok else 1
        status = "ok" if ok else "MISS"
        values = f"{'-':>18}{'-':>14}" if b is None else f"{b:>18.1f}{o:>14.1f}"
        print(f"{label:<30}{values}{ratio:>8.1%}  ≥97% {status}")
    return verdict


if __name__ == "__main__":
    raise SystemExit(main())
