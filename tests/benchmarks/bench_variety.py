"""Benchmark: what the variety measure (pt-PT vs pt-BR) costs per rung, and at AMALIA's size.

Not collected by pytest. Run from the repository root:

    python tests/benchmarks/bench_variety.py [--model GGUF] [--threads N]
                                             [--pairs N] [--prompts N] [--tokens 128]
                                             [--pp 15] [--tg 6]

Scores the minimal pairs (all 459, or ``--pairs`` per category) and runs the generation
check (``--prompts`` of the 40, ``--tokens`` greedy tokens each) on ``--model`` (default:
SmolLM2-135M from tests/.models), printing the tokens llama.cpp evaluated, the llama.cpp
decode calls and the seconds of each part. It then projects one rung of AMALIA's size from
those counts and the prompt/generation speeds measured at AMALIA's shape on this machine
(``--pp`` and ``--tg`` tokens/s; shared/README.md: ~15 and ~6 on 2 cores), and sets it
beside the budget: the time of 30,000 prompt tokens. The pair tokens of the projection are
the exact count for all 459 pairs with the model's tokenizer (also on a sampled run), the
generated tokens the upper bound 40 x --tokens. Run AMALIA's shape itself with
``flock /tmp/amalia-shape.lock python tests/benchmarks/bench_variety.py --model
/work/amalia-shape.gguf --pairs 4 --prompts 2`` (its random vocabulary makes its token
counts meaningless; its seconds per token are the real ones).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from amalia_local.engine.llama_log import LlamaLogSink  # noqa: E402
from quant.evaluate import open_for_logits  # noqa: E402
from quant.variety import PAIR_CTX, PairScorer, generate_answers, score_pairs  # noqa: E402
from quant.variety_data import first_per_category, load_pairs, load_prompts  # noqa: E402

SMOLLM = ROOT / "tests" / ".models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
BUDGET_PROMPT_TOKENS = 30_000


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, default=SMOLLM)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--pairs", type=int, help="at most N pairs per category (default: all)")
    p.add_argument("--prompts", type=int, default=40)
    p.add_argument("--tokens", type=int, default=128)
    p.add_argument("--pp", type=float, default=15.0, help="AMALIA prompt tokens/s here")
    p.add_argument("--tg", type=float, default=6.0, help="AMALIA generated tokens/s here")
    args = p.parse_args()

    all_pairs = load_pairs()
    pairs = first_per_category(all_pairs, args.pairs)
    prompts = load_prompts()[: args.prompts]
    with LlamaLogSink(Path("/tmp/bench-variety-llama.log")) as log:
        start = time.perf_counter()
        with open_for_logits(args.model, PAIR_CTX, args.threads, log) as llm:
            load = time.perf_counter() - start
            variety = score_pairs(llm, pairs)
            scorer = PairScorer(llm)  # exact token counts of the full data, without scoring
            full_pair_tokens = len(scorer.context) + sum(scorer.cost(x) for x in all_pairs)
        _answers, generated, gen_seconds = generate_answers(
            args.model, log, threads=args.threads, max_tokens=args.tokens, prompts=prompts
        )
    tok_per_pair = variety.tokens_evaluated / len(pairs)
    print(f"model {args.model.name}, {args.threads} threads, load {load:.1f} s")
    print(f"pairs: {len(pairs)} scored, {variety.tokens_evaluated:,} tokens evaluated "
          f"({tok_per_pair:.1f} per pair, 2 decode calls per pair), {variety.seconds:.1f} s, "
          f"{variety.tokens_evaluated / variety.seconds:.1f} tokens/s")  # fmt: skip
    print(f"generation: {len(prompts)} prompts, {generated:,} tokens in {gen_seconds:.1f} s "
          f"({generated / gen_seconds:.1f} tokens/s incl. prompts)")  # fmt: skip
    print(f"all {len(all_pairs)} pairs: {full_pair_tokens:,} tokens to evaluate with this "
          f"model's tokenizer")  # fmt: skip
    full_gen = args.tokens * 40  # upper bound: every answer runs to the limit
    prompt_tokens = 40 * 40  # chat-template prompts are under 40 tokens each
    seconds = full_pair_tokens / args.pp + prompt_tokens / args.pp + full_gen / args.tg
    budget = BUDGET_PROMPT_TOKENS / args.pp
    print(f"projection for one AMALIA-size rung (all {len(all_pairs)} pairs, 40 prompts x "
          f"{args.tokens} tokens): {full_pair_tokens:,.0f} pair tokens / {args.pp:g} t/s + "
          f"{prompt_tokens:,} prompt tokens / {args.pp:g} t/s + {full_gen:,} generated / "
          f"{args.tg:g} t/s = {seconds:,.0f} s ({seconds / 60:.0f} min)")  # fmt: skip
    print(f"budget: 30,000 prompt tokens / {args.pp:g} t/s = {budget:,.0f} s "
          f"({budget / 60:.0f} min); projection is {seconds / budget:.0%} of it")  # fmt: skip


if __name__ == "__main__":
    main()
