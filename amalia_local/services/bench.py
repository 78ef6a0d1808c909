"""``amalia bench``: prompt and generation speed, measured the way llama-bench does.

Each test is repeated from an empty cache after one warm-up run; we report the mean and
the sample standard deviation of tokens/s so two machines (or builds) can be compared.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass, field
from typing import TextIO

from amalia_local.engine import Engine, LoadOptions
from amalia_local.runtime import Runtime
from amalia_local.services.loading import notice_lines


@dataclass(frozen=True)
class BenchRequest:
    model: str
    prompt_tokens: int = 512
    gen_tokens: int = 128
    repetitions: int = 5
    load: LoadOptions = field(default_factory=LoadOptions)
    json_output: bool = False


@dataclass(frozen=True)
class BenchResult:
    test: str  # "pp512", "tg128"
    n_tokens: int
    samples: list[float]  # tokens/s of each repetition

    @property
    def mean(self) -> float:
        return statistics.fmean(self.samples)

    @property
    def stdev(self) -> float:
        return statistics.stdev(self.samples) if len(self.samples) > 1 else 0.0


def measure(engine: Engine, request: BenchRequest) -> list[BenchResult]:
    results = []
    if request.prompt_tokens > 0:
        tokens = engine.sample_tokens(request.prompt_tokens)
        engine.time_prompt(tokens)  # warm-up: page in weights, build the graph
        samples = [len(tokens) / engine.time_prompt(tokens) for _ in range(request.repetitions)]
        results.append(BenchResult(f"pp{len(tokens)}", len(tokens), samples))
    if request.gen_tokens > 0:
        tokens = engine.sample_tokens(request.gen_tokens, seed=4321)
        engine.time_generation(tokens[: min(8, len(tokens))])
        samples = [len(tokens) / engine.time_generation(tokens) for _ in range(request.repetitions)]
        results.append(BenchResult(f"tg{len(tokens)}", len(tokens), samples))
    return results


def bench(request: BenchRequest, runtime: Runtime, out: TextIO, err: TextIO | None = None) -> int:
    with (
        runtime.open_llama_log() as log,
        Engine.open(
            request.model, request.load, log, cache_dir=runtime.locations.cache_dir
        ) as engine,
    ):
        opts = engine.options
        for line in notice_lines(opts, runtime):
            if err is not None:
                err.write(f"amalia: {line}\n")
        results = measure(engine, request)
        model = engine.model_file
        backend = "GPU" if opts.n_gpu_layers != 0 else "CPU"
        if request.json_output:
            payload = {
                "model": model.name,
                "file_type": model.file_type,
                "size": model.size_bytes,
                "parameters": model.parameter_count,
                "backend": backend,
                "n_threads": opts.n_threads,
                "n_gpu_layers": opts.n_gpu_layers,
                "repetitions": request.repetitions,
                "reduced": [r.as_dict() for r in opts.reductions],
                "results": [
                    {**asdict(r), "mean": round(r.mean, 2), "stdev": round(r.stdev, 2)}
                    for r in results
                ],
            }
            out.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
            return 0
        t = runtime.t
        header = [
            t("bench.model"),
            t("bench.size"),
            t("bench.params"),
            t("bench.backend"),
            t("bench.threads"),
            t("bench.test"),
            "t/s",
        ]
        rows = [
            [
                model.name,
                runtime.numbers.bytes(model.size_bytes),
                runtime.numbers.short(model.parameter_count),
                backend,
                str(opts.n_threads),
                r.test,
                f"{runtime.numbers.decimal(r.mean, 2)} ± {runtime.numbers.decimal(r.stdev, 2)}",
            ]
            for r in results
        ]
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
        for row in [header, ["-" * w for w in widths], *rows]:
            out.write(
                "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |\n"
            )
    return 0
