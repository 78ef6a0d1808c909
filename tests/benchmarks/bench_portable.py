"""Speed of the portable llama.cpp (bundles) against the native one (pip install).

Target (issue 11): on this machine, the portable build, with the CPU variant ggml picks
at start-up, reaches at least 97% of the native build's prompt and generation tokens/s
(within 3%) on SmolLM2.

Both run ``amalia run --json`` greedy in fresh processes, alternating, with the same
prompt, threads and context. The native side is this venv's llama-cpp-python (pip's
build, ``-march=native``). The portable side is the same amalia-local with the
portable wheel from the bundle cache put in front of it on ``PYTHONPATH`` (installed
with ``pip install --target``), so only llama.cpp differs. Reported: medians, best
runs, and the median of per-pair ratios (this VM drifts; pairing cancels it).

    python tests/benchmarks/bench_portable.py [MODEL.gguf] [--reps 5] [--threads N]

The portable wheel is built first when the cache has none (about 10 minutes); the
time that takes, and the time of a second, cached lookup, are printed too.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench_common import LISBON, amalia_run_stats
from fetch_smollm import ensure_smollm

from amalia_local.bundle import llama_build, wheelhouse
from amalia_local.hardware import physical_cores
from amalia_local.locations import Locations

QUESTION = " ".join([LISBON] * 6)
CTX = 2048
MAX_TOKENS = 192
TARGET = 0.97


def portable_wheel() -> tuple[Path, float]:
    locations = Locations.resolve()
    started = time.perf_counter()
    wheel = llama_build.PortableSpec(
        locations.llama_wheels,
        wheelhouse.llama_version(),
        "none",
        wheelhouse.this_python(),
        wheelhouse.this_platforms()[0],
    ).ensure(
        [],
        lambda step, steps: None,
        locations.llama_build_log,
    )
    return wheel.path, time.perf_counter() - started


def run(model: Path, threads: int, env: dict[str, str]) -> dict[str, float]:
    stats = amalia_run_stats(
        model, QUESTION, threads=threads, ctx=CTX, max_tokens=MAX_TOKENS, env=env
    )
    return {"prompt_tps": stats["prompt_tokens_per_second"],
            "gen_tps": stats["generation_tokens_per_second"]}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", type=Path)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=physical_cores())
    args = parser.parse_args()
    model = args.model or ensure_smollm()

    wheel, first = portable_wheel()
    _, again = portable_wheel()
    print(f"portable wheel {wheel.name}: {first:.1f} s to get it, {again:.2f} s from the cache")
    with tempfile.TemporaryDirectory(prefix="amalia-portable-") as target:
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target",
             target, str(wheel)],
            check=True,
        )  # fmt: skip
        portable_env = {"PYTHONPATH": target}
        native: list[dict[str, float]] = []
        portable: list[dict[str, float]] = []
        for i in range(args.reps):
            native.append(run(model, args.threads, {}))
            portable.append(run(model, args.threads, portable_env))
            print(
                f"rep {i + 1}: native gen {native[-1]['gen_tps']:.1f} t/s, "
                f"portable gen {portable[-1]['gen_tps']:.1f} t/s",
                file=sys.stderr,
            )

    print(f"model {model.name}, threads {args.threads}, ctx {CTX}, {args.reps} alternating runs")
    print(f"{'metric':<34}{'native':>10}{'portable':>10}{'ratio':>9}{'target':>9}")
    verdict = 0
    for key, label in (("prompt_tps", "prompt tokens/s"), ("gen_tps", "generation tokens/s")):
        rows = [
            (f"{label}, median", statistics.median(r[key] for r in native),
             statistics.median(r[key] for r in portable)),
            (f"{label}, best", max(r[key] for r in native), max(r[key] for r in portable)),
        ]  # fmt: skip
        for name, n, p in rows:
            print(f"{name:<34}{n:>10.1f}{p:>10.1f}{p / n:>8.1%}{'':>9}")
        paired = statistics.median(p[key] / n[key] for n, p in zip(native, portable, strict=True))
        ok = paired >= TARGET
        verdict |= 0 if ok else 1
        print(f"{label + ', paired median':<34}{'-':>10}{'-':>10}{paired:>8.1%}  ≥97% "
              f"{'ok' if ok else 'MISS'}")  # fmt: skip
    return verdict


if __name__ == "__main__":
    raise SystemExit(main())
