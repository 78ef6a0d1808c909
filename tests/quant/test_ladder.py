"""The whole ladder on a tiny generated model, through the real CLI entry point."""

from __future__ import annotations

import hashlib
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import gguf
import llama_cpp
import numpy as np
import pytest

from amalia_local.engine import llama_private
from amalia_local.model_file import inspect
from quant.ladder import estimate_output_bytes
from quant.types import DEFAULT_TYPES, QUANT_TYPES

ROOT = Path(__file__).resolve().parents[2]
CTX = 128


@pytest.fixture(scope="module")
def ladder(
    tmp_path_factory: pytest.TempPathFactory, quant_source: Path, short_eval: Path
) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """The issue's default ladder (all six types) from the tiny f16 model."""
    tmp = tmp_path_factory.mktemp("ladder")
    outdir = tmp / "out"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "quant",
            str(quant_source),
            "--types",
            ",".join(DEFAULT_TYPES),
            "--outdir",
            str(outdir),
            "--eval",
            str(short_eval),
            "--ctx",
            str(CTX),
            "--threads",
            "2",
            "--pp",
            "16",
            "--tg",
            "4",
            "--reps",
            "2",
            "--no-variety",  # measured in test_variety_smollm.py, on a real model
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        encoding="utf-8",
        env={"PATH": "/usr/bin:/bin", "AMALIA_HOME": str(tmp / "home"), "LANG": "C.UTF-8"},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return outdir, result


def _report(outdir: Path) -> dict[str, Any]:
    return json.loads((outdir / "report.json").read_text(encoding="utf-8"))


def test_every_type_is_written_and_is_what_it_claims(
    ladder: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    outdir, result = ladder
    printed = result.stdout.split()
    for name in DEFAULT_TYPES:
        path = outdir / f"tiny-{name}.gguf"
        assert str(path) in printed
        reader = gguf.GGUFReader(path)
        qtype = QUANT_TYPES[name]
        assert int(reader.fields["general.file_type"].contents()) == int(qtype.ftype)
        types = {t.name: t.tensor_type for t in reader.tensors}
        # the layer weights carry the type's own block format (K-quant mixes raise a few)
        assert types["blk.0.attn_q.weight"] == qtype.main_tensor_type, name
        assert types["blk.0.attn_norm.weight"] == gguf.GGMLQuantizationType.F32


def test_every_output_loads_and_runs_in_llama_cpp(
    ladder: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    outdir, _ = ladder
    for name in DEFAULT_TYPES:
        llm = llama_cpp.Llama(str(outdir / f"tiny-{name}.gguf"), n_ctx=64, verbose=False)
        try:
            llm.eval(llm.tokenize("Olá, Lisboa!".encode()))
            assert llama_private.n_cached(llm) > 0
        finally:
            llm.close()


def test_manifest_matches_the_files(ladder: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    outdir, _ = ladder
    manifest = json.loads((outdir / "manifest.json").read_text(encoding="utf-8"))
    assert [f["type"] for f in manifest["files"]] == list(DEFAULT_TYPES)
    for entry in manifest["files"]:
        path = outdir / entry["file"]
        data = path.read_bytes()
        assert entry["size"] == len(data)
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()


def test_nothing_temporary_is_left(ladder: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    outdir, _ = ladder
    expected = {f"tiny-{n}.gguf" for n in DEFAULT_TYPES}
    expected |= {"report.json", "report.md", "manifest.json", "README.md"}
    assert {p.name for p in outdir.iterdir()} == expected


def test_report_has_every_figure(ladder: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    outdir, _ = ladder
    report = _report(outdir)
    names = [r["name"] for r in report["rungs"]]
    assert names == ["source", *DEFAULT_TYPES]
    source = report["rungs"][0]
    assert source["file_type"] == "F16"
    assert source["evaluation"]["whole"]["kl_mean"] == 0.0
    assert source["evaluation"]["whole"]["top1"] == 1.0
    for rung in report["rungs"]:
        whole = rung["evaluation"]["whole"]
        assert whole["perplexity"] > 1
        assert 0 <= whole["kl_mean"] <= whole["kl_p99"] or rung["name"] == "source"
        assert rung["speed"]["prompt_mean"] > 0 and rung["speed"]["gen_mean"] > 0
        assert rung["bits_per_weight"] > 0
        halves = rung["evaluation"]["halves"]
        assert halves[0]["n_tokens"] + halves[1]["n_tokens"] == whole["n_tokens"]
    bpw = {r["name"]: r["bits_per_weight"] for r in report["rungs"]}
    assert bpw["Q8_0"] > bpw["Q6_K"] > bpw["Q5_K_M"] > bpw["Q4_K_M"] > bpw["Q3_K_M"]
    # ranking is by KL: Q8_0 is the closest rung to the source even on a random model
    assert report["ranking"][0] == "Q8_0"
    assert set(report["stability"]) == {"ppl_ratio_spread", "kl_mean_relative_spread"}


def test_markdown_and_model_card(ladder: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    outdir, _ = ladder
    table = (outdir / "report.md").read_text(encoding="utf-8")
    for name in DEFAULT_TYPES:
        assert f"| {name} | `tiny-{name}.gguf` |" in table
    card = (outdir / "README.md").read_text(encoding="utf-8")
    front, body = card.split("---\n")[1], card.split("---\n", 2)[2]
    assert "- pt\n" in front and "- gguf\n" in front and "license:" in front
    assert "| Type |" in body and "tiny-Q4_K_M.gguf" in body
    # the tiny source was written directly, never verified against a checkpoint
    assert "Verification: none recorded for `tiny-F16.gguf`" in body


def _log_softmax_row(row: np.ndarray) -> np.ndarray:
    """An independent formulation: logaddexp reduction, no max shifting."""
    row = row.astype(np.float64)
    return row - np.logaddexp.reduce(row)


def test_source_perplexity_is_llama_perplexity_s_definition(
    ladder: tuple[Path, subprocess.CompletedProcess[str]], quant_source: Path, short_eval: Path
) -> None:
    """Recompute the source's perplexity by hand as llama-perplexity defines it: BOS + text
    as one stream, chunks of exactly CTX tokens (the tail dropped) whose first token becomes
    BOS, and only the tokens after position CTX/2 of each chunk scored."""
    outdir, _ = ladder
    report = _report(outdir)
    reported = report["rungs"][0]["evaluation"]["whole"]
    llm = llama_cpp.Llama(str(quant_source), n_ctx=CTX, logits_all=True, verbose=False)
    try:
        stream = llm.tokenize(short_eval.read_text(encoding="utf-8").encode(), add_bos=True)
        nll: list[float] = []
        for i in range(len(stream) // CTX):
            chunk = stream[i * CTX : (i + 1) * CTX]
            chunk[0] = llm.token_bos()
            llm.reset()
            llm.eval(chunk)
            logits = np.array(llama_private.logits(llm)[:CTX])
            for j in range(CTX // 2, CTX - 1):
                nll.append(-_log_softmax_row(logits[j])[chunk[j + 1]])
    finally:
        llm.close()
    assert report["n_windows"] == len(stream) // CTX >= 2
    assert reported["n_tokens"] == len(nll) == report["n_windows"] * (CTX - CTX // 2 - 1)
    assert reported["perplexity"] == pytest.approx(math.exp(sum(nll) / len(nll)), rel=1e-9)
    assert "chunked as llama.cpp's `llama-perplexity` does" in (outdir / "report.md").read_text(
        encoding="utf-8"
    )


def test_free_space_estimate_is_an_upper_bound(
    ladder: tuple[Path, subprocess.CompletedProcess[str]], quant_source: Path
) -> None:
    """The space check must never let a run start that then fills the disk."""
    outdir, _ = ladder
    source = inspect(quant_source)
    for name in DEFAULT_TYPES:
        actual = (outdir / f"tiny-{name}.gguf").stat().st_size
        assert estimate_output_bytes(source, QUANT_TYPES[name]) >= actual, name
