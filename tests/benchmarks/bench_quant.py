"""Benchmark: our quantize step against a direct ``llama_model_quantize`` call.

Not collected by pytest. Run from the repository root:

    python tests/benchmarks/bench_quant.py [--source F16.gguf] [--type Q4_K_M]
                                           [--threads N] [--runs 5] [--work DIR]

Without ``--source`` it first widens the SmolLM2-135M test model (tests/.models) to f16
with llama.cpp's quantizer (270 MB, the kind of file a maintainer starts from), then
quantizes that same file alternately with :func:`quant.quantize.quantize_file` (worker
thread, log sink, tensor progress bar drawn to a throw-away stream, temporary name and
rename) and with a bare ``llama_model_quantize`` call with the same thread count and
llama-cpp-python's default logging. Alternating cancels drift in machine load; we print
every run, the median and the best of each, and the overhead of ours in percent. The
target is at most 5%.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
from pathlib import Path

import llama_cpp

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from amalia_local.engine.llama_log import LlamaLogSink  # noqa: E402
from amalia_local.model_file import inspect  # noqa: E402
from amalia_local.progress import Progress  # noqa: E402
from quant.quantize import quantize_file  # noqa: E402
from quant.types import QUANT_TYPES  # noqa: E402

SMOLLM = ROOT / "tests" / ".models" / "SmolLM2-135M-Instruct.Q4_1.gguf"


def direct(source: Path, dest: Path, ftype: int, threads: int, requantize: bool) -> float:
    params = llama_cpp.llama_model_quantize_default_params()
    params.nthread = threads
    params.ftype = ftype
    params.allow_requantize = requantize
    start = time.perf_counter()
    rc = llama_cpp.llama_model_quantize(str(source).encode(), str(dest).encode(), params)
    elapsed = time.perf_counter() - start
    if rc != 0:
        raise SystemExit(f"direct llama_model_quantize failed ({rc})")
    return elapsed


def ours(
    source: Path, dest: Path, type_name: str, threads: int, requantize: bool, work: Path
) -> float:
    n_tensors = len(inspect(source).tensors)
    start = time.perf_counter()
    with (
        LlamaLogSink(work / "bench-llama.log") as log,
        Progress(total=n_tensors, unit="tensors", stream=io.StringIO(), interval=0.1) as bar,
    ):
        done = [0]

        def tick(i: int, _n: int) -> None:
            bar.update(i - done[0])
            done[0] = i

        quantize_file(
            source,
            dest,
            QUANT_TYPES[type_name],
            log,
            threads=threads,
            allow_requantize=requantize,
            on_tensor=tick,
        )
    return time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--source", type=Path, help="GGUF to quantize (default: SmolLM2 as f16)")
    p.add_argument("--type", default="Q4_K_M")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--work", type=Path, default=Path("/tmp/bench-quant"))
    args = p.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)

    source = args.source
    if source is None:
        source = args.work / "SmolLM2-135M-Instruct-F16.gguf"
        if not source.exists():
            direct(SMOLLM, source, int(QUANT_TYPES["F16"].ftype), args.threads, True)
    requantize = inspect(source).file_type not in ("F16", "BF16", "F32")
    ftype = int(QUANT_TYPES[args.type].ftype)
    print(f"source {source.name} ({source.stat().st_size / 1e6:.0f} MB) -> {args.type}, "
          f"{args.threads} threads, {args.runs} runs each, alternating")  # fmt: skip

    times: dict[str, list[float]] = {"direct": [], "ours": []}
    for run in range(args.runs):
        order = ("direct", "ours") if run % 2 == 0 else ("ours", "direct")
        for who in order:
            dest = args.work / f"out-{who}.gguf"
            if who == "direct":
                t = direct(source, dest, ftype, args.threads, requantize)
            else:
                t = ours(source, dest, args.type, args.threads, requantize, args.work)
            times[who].append(t)
            dest.unlink()
        print(f"run {run + 1}: direct {times['direct'][-1]:.2f} s   ours {times['ours'][-1]:.2f} s")
    med = {k: statistics.median(v) for k, v in times.items()}
    best = {k: min(v) for k, v in times.items()}
    print(f"median: direct {med['direct']:.2f} s, ours {med['ours']:.2f} s, "
          f"overhead {(med['ours'] / med['direct'] - 1) * 100:+.1f}%")  # fmt: skip
    print(f"best:   direct {best['direct']:.2f} s, ours {best['ours']:.2f} s, "
          f"overhead {(best['ours'] / best['direct'] - 1) * 100:+.1f}%")  # fmt: skip


if __name__ == "__main__":
    main()
