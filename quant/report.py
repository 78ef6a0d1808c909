"""The ladder's written results: report.json, report.md, manifest.json and a model card.

The JSON is the record (every figure, unrounded); the Markdown table and the model card
are views of it for people. Every file is written to a temporary name and renamed, so a
reader never sees half a report.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from amalia_local.filecopy import write_text_atomic
from amalia_local.formatting import human_bytes, human_count
from quant import variety_report
from quant.evaluate import Evaluation
from quant.variety import Variety

_HASH_BLOCK = 1 << 22


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(_HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class Speed:
    """Tokens/s as mean and sample standard deviation over repetitions (bench.measure)."""

    prompt_mean: float
    prompt_stdev: float
    gen_mean: float
    gen_stdev: float
    prompt_tokens: int
    gen_tokens: int
    repetitions: int


@dataclass(frozen=True)
class Rung:
    """One file of the ladder (the source included) and what it costs."""

    name: str  # "source" or a type such as "Q4_K_M"
    file: str
    file_type: str
    size_bytes: int
    bits_per_weight: float
    evaluation: Evaluation
    speed: Speed | None = None
    quantize_seconds: float | None = None
    sha256: str | None = None
    type_breakdown: dict[str, int] = field(default_factory=dict)
    variety: Variety | None = None  # pt-PT vs pt-BR (quant.variety); None when skipped


@dataclass(frozen=True)
class Report:
    model_name: str
    source_file: str
    source_type: str
    parameters: int
    eval_text: str
    eval_sha256: str
    n_ctx: int
    n_windows: int
    threads: int
    llama_cpp_version: str
    rungs: list[Rung]
    imatrix: str | None = None
    base_model: str | None = None
    license: str | None = None
    # the source's `python -m convert --verify` record (convert.verify.read_record)
    verification: dict[str, Any] | None = None

    def ranked(self) -> list[Rung]:
        """Quantized rungs, closest to the source first (by mean KL divergence)."""
        return sorted(
            (r for r in self.rungs if r.name != "source"),
            key=lambda r: r.evaluation.whole.kl_mean,
        )

    def stability(self) -> dict[str, float]:
        """Largest difference between the eval set's two halves, relative, over rungs.

        For perplexity we compare each rung's perplexity *ratio* to the source (what the
        report is used for) between halves; for KL, the mean. Small numbers mean the text
        is long enough for the figures to be trusted at that precision.
        """
        source = next(r for r in self.rungs if r.name == "source").evaluation
        ppl_spread = 0.0
        kl_spread = 0.0
        for rung in self.ranked():
            a, b = rung.evaluation.halves
            ratio_a = a.perplexity / source.halves[0].perplexity
            ratio_b = b.perplexity / source.halves[1].perplexity
            ppl_spread = max(ppl_spread, abs(ratio_a - ratio_b))
            kl = rung.evaluation.whole.kl_mean
            if kl > 0:
                kl_spread = max(kl_spread, abs(a.kl_mean - b.kl_mean) / kl)
        return {"ppl_ratio_spread": ppl_spread, "kl_mean_relative_spread": kl_spread}


def _source_variety(report: Report) -> Variety | None:
    return next((r.variety for r in report.rungs if r.name == "source"), None)


def _jsonable(report: Report) -> dict[str, Any]:
    data = asdict(report)
    data["ranking"] = [r.name for r in report.ranked()]
    data["stability"] = report.stability()
    source = _source_variety(report)
    for rung, out in zip(report.rungs, data["rungs"], strict=True):
        if rung.variety is not None:
            out["variety"] = variety_report.as_json(rung.name, rung.variety, source)
    return data


def variety_section(report: Report, level: int = 2) -> str:
    """The variety section for every rung that has figures (source first), or nothing."""
    source = [r for r in report.rungs if r.name == "source"]
    rows = [
        (r.name, f"{r.file_type} (source)" if r.name == "source" else r.name, r.variety)
        for r in source + report.ranked()
        if r.variety is not None
    ]
    return variety_report.section(rows, level) if rows else ""


def _speed_cells(speed: Speed | None) -> tuple[str, str]:
    if speed is None:
        return "n/a", "n/a"
    return (
        f"{speed.prompt_mean:.1f} ± {speed.prompt_stdev:.1f}",
        f"{speed.gen_mean:.1f} ± {speed.gen_stdev:.1f}",
    )


def table(report: Report) -> str:
    """The Markdown table: source first, then rungs from the best to the worst KL."""
    src_ppl = next(r for r in report.rungs if r.name == "source").evaluation.whole.perplexity
    header = [
        "Type",
        "File",
        "Size",
        "BPW",
        "PPL",
        "ΔPPL",
        "KL mean",
        "KL p99",
        "Top-1",
        "pp t/s",
        "tg t/s",
    ]
    rows = []
    source = [r for r in report.rungs if r.name == "source"]
    for rung in source + report.ranked():
        w = rung.evaluation.whole
        pp, tg = _speed_cells(rung.speed)
        label = f"{rung.file_type} (source)" if rung.name == "source" else rung.name
        rows.append(
            [
                label,
                f"`{rung.file}`",
                human_bytes(rung.size_bytes),
                f"{rung.bits_per_weight:.2f}",
                f"{w.perplexity:.3f}",
                f"{(w.perplexity / src_ppl - 1) * 100:+.2f}%",
                f"{w.kl_mean:.5f}",
                f"{w.kl_p99:.4f}",
                f"{w.top1 * 100:.2f}%",
                pp,
                tg,
            ]
        )
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _method(report: Report) -> str:
    source = next(r for r in report.rungs if r.name == "source")
    n_tokens = source.evaluation.whole.n_tokens
    stab = report.stability()
    speed = next((r.speed for r in report.rungs if r.speed is not None), None)
    lines = [
        f"Measured on {n_tokens:,} scored tokens of held-out European-Portuguese text "
        f"(`{report.eval_text}`, sha256 `{report.eval_sha256[:12]}…`), chunked as llama.cpp's "
        f"`llama-perplexity` does: {report.n_windows} chunks of {report.n_ctx} tokens, each "
        "starting from an empty cache with BOS, scoring only the second half of each chunk, "
        "so PPL can be set beside `llama-perplexity -c "
        f"{report.n_ctx}` on the same text. "
        "KL is KL(source ‖ quantized) of the next-token distribution, per position; "
        "Top-1 is how often both pick the same most likely token. The reference is the "
        f"source file ({report.source_type}), not the original training checkpoint.",
        "",
        f"Stability: between the two halves of the evaluation text, the perplexity ratio "
        f"to the source differs by at most {stab['ppl_ratio_spread'] * 100:.2f} percentage "
        f"points and the mean KL by at most {stab['kl_mean_relative_spread'] * 100:.1f}% "
        "(relative), over all rungs.",
    ]
    if speed is not None:
        lines += [
            "",
            f"Speed: llama.cpp on this machine's CPU, {report.threads} thread(s), prompt of "
            f"{speed.prompt_tokens} tokens and generation of {speed.gen_tokens} tokens, "
            f"mean ± standard deviation over {speed.repetitions} runs after a warm-up "
            f"(llama-cpp-python {report.llama_cpp_version}).",
        ]
    lines += [
        "",
        "Importance matrix: "
        + (f"`{report.imatrix}`." if report.imatrix else "none (plain quantization)."),
    ]
    return "\n".join(lines) + "\n"


def verification_text(report: Report) -> str:
    """Whether the source was checked against the original checkpoint, and when."""
    v = report.verification
    if not v:
        return (
            f"Verification: none recorded for `{report.source_file}` "
            "(`python -m convert --verify HF_DIR SOURCE.gguf` records one).\n"
        )
    return (
        f"Verification: `{report.source_file}` passed `python -m convert --verify` against "
        f"the checkpoint `{v.get('checkpoint', '?')}` on {v.get('date', '?')} "
        f"({v.get('checks', 'token ids')} compared with transformers "
        f"{v.get('transformers', '?')}).\n"
    )


def markdown(report: Report) -> str:
    return (
        f"# Quantization report: {report.model_name}\n\n"
        f"Source: `{report.source_file}` ({report.source_type}, "
        f"{human_count(report.parameters)} parameters). "
        "Rows after the source are ordered from the closest to the source to the farthest.\n\n"
        + table(report)
        + "\n"
        + _method(report)
        + "\n"
        + verification_text(report)
        + ("\n" + variety_section(report) if variety_section(report) else "")
    )


def manifest(report: Report) -> dict[str, Any]:
    return {
        "model": report.model_name,
        "source": report.source_file,
        "files": [
            {"file": r.file, "type": r.name, "size": r.size_bytes, "sha256": r.sha256}
            for r in report.rungs
            if r.name != "source"
        ],
    }


def model_card(report: Report) -> str:
    """A Hugging Face model card (YAML front matter + Markdown) for the GGUF repository."""
    front = ["---", f"license: {report.license or 'other'}", "language:", "- pt"]
    if report.base_model:
        front += [f"base_model: {report.base_model}", "base_model_relation: quantized"]
    front += [
        "pipeline_tag: text-generation",
        "library_name: gguf",
        "tags:",
        "- gguf",
        "- llama.cpp",
        "- quantized",
        "- pt-PT",
        "---",
        "",
    ]
    best = report.ranked()
    files = "\n".join(f"- `{r.file}` ({r.name}, {human_bytes(r.size_bytes)})" for r in best)
    example = best[0].file if best else report.source_file
    body = f"""# {report.model_name} — GGUF

GGUF files of {report.model_name} for [llama.cpp](https://github.com/ggml-org/llama.cpp) and
tools built on it, quantized with llama.cpp's own quantizer from `{report.source_file}`
({report.source_type}). Each file was measured against that source on held-out
European-Portuguese text.

## Files

{files}

## Quality and speed in European Portuguese

{table(report)}
{_method(report)}
{verification_text(report)}
{variety_section(report)}
How to choose: the lower the KL divergence and the higher the top-1 agreement, the closer a
file behaves to the source. Pick the largest file that fits in your RAM with room for the
context.

## Use

With amalia-local, or any program built on llama.cpp:

```bash
amalia run {example} "Qual é a capital de Portugal?"
llama-cli -m {example} -p "Qual é a capital de Portugal?"
```

## License

{
        "Same license as the source model: " + report.license + "."
        if report.license
        else "See the source model's license."
    }
"""
    return "\n".join(front) + body


def write_all(report: Report, outdir: Path) -> list[Path]:
    """report.json, report.md, manifest.json and README.md in ``outdir``."""
    outputs = {
        "report.json": json.dumps(_jsonable(report), ensure_ascii=False, indent=2) + "\n",
        "report.md": markdown(report),
        "manifest.json": json.dumps(manifest(report), ensure_ascii=False, indent=2) + "\n",
        "README.md": model_card(report),
    }
    paths = []
    for name, text in outputs.items():
        path = outdir / name
        write_text_atomic(path, text)
        paths.append(path)
    return paths
