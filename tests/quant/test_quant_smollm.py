"""The ladder on a real model (SmolLM2-135M, Q4_1): quality must fall with the bits."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from quant_helpers import EVAL_TEXT

from amalia_local.engine.llama_log import LlamaLogSink
from quant.evaluate import Reference, open_for_logits, perplexity_chunks, tokenize_text
from quant.imatrix import CImatrix
from quant.imatrix import compute as compute_imatrix
from quant.quantize import quantize_file
from quant.types import QUANT_TYPES

pytestmark = pytest.mark.smollm
ROOT = Path(__file__).resolve().parents[2]
TYPES = ("Q8_0", "Q4_K_M", "Q3_K_M")


def test_kl_grows_as_bits_fall_and_the_report_ranks_so(
    smollm: Path,
    tmp_path: Path,
    quant_cli: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    text = tmp_path / "eval.txt"
    text.write_text(EVAL_TEXT[:800], encoding="utf-8")  # two 128-token chunks
    outdir = tmp_path / "out"
    result = quant_cli(
        str(smollm),
        "--types",
        ",".join(reversed(TYPES)),  # the order asked for must not decide the ranking
        "--outdir",
        str(outdir),
        "--allow-requantize",
        "--eval",
        str(text),
        "--ctx",
        "128",
        "--reps",
        "0",
        "--threads",
        "1",  # on a busy shared machine one thread evaluates fastest
        "--quiet",
        "--no-variety",
        timeout=600,  # a loaded 2-core machine; typically under a minute
    )
    assert result.returncode == 0, result.stderr
    report = json.loads((outdir / "report.json").read_text(encoding="utf-8"))
    kl = {r["name"]: r["evaluation"]["whole"]["kl_mean"] for r in report["rungs"]}
    top1 = {r["name"]: r["evaluation"]["whole"]["top1"] for r in report["rungs"]}
    assert kl["source"] == 0.0
    assert 0 < kl["Q8_0"] < kl["Q4_K_M"] < kl["Q3_K_M"], kl
    assert top1["Q8_0"] > top1["Q3_K_M"], top1
    assert report["ranking"] == list(TYPES)
    # the Markdown table lists them in the same order
    table = (outdir / "report.md").read_text(encoding="utf-8")
    rows = [line.split("|")[1].strip() for line in table.splitlines() if line.startswith("| ")]
    assert rows[2:] == list(TYPES)  # after the header row and the source row
    # printed: the files, best first
    assert [Path(p).name for p in result.stdout.split()] == [
        f"SmolLM2-135M-Instruct-{t}.gguf" for t in TYPES
    ]


def test_interrupt_during_quantization_leaves_nothing(smollm: Path, tmp_path: Path) -> None:
    """Ctrl-C while llama.cpp is writing: exit 130, one line, no partial file."""
    outdir = tmp_path / "out"
    outdir.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "quant", str(smollm), "--types", "Q3_K_M", "--outdir",
         str(outdir), "--allow-requantize", "--threads", "1", "--quiet"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={"PATH": "/usr/bin:/bin", "AMALIA_HOME": str(tmp_path / "home")},
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not any(outdir.glob(".*.partial")):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.strip() == "error: interrupted; temporary files removed"
    assert out == ""
    assert list(outdir.iterdir()) == []


def test_importance_matrix_lowers_kl(smollm: Path, tmp_path: Path) -> None:
    """Q3_K_M with an imatrix from pt-PT calibration text is closer to the source."""
    calibration = (ROOT / "quant" / "data" / "calibration_pt.txt").read_text(encoding="utf-8")
    with LlamaLogSink(tmp_path / "llama.log") as log:
        imatrix = compute_imatrix(smollm, calibration[:1000], log, n_ctx=256, threads=1)
        plain, weighted = tmp_path / "plain.gguf", tmp_path / "weighted.gguf"
        qtype = QUANT_TYPES["Q3_K_M"]
        quantize_file(smollm, plain, qtype, log, threads=1, allow_requantize=True)
        quantize_file(smollm, weighted, qtype, log, threads=1, allow_requantize=True,
                      imatrix=CImatrix(imatrix))  # fmt: skip
        with open_for_logits(smollm, 128, 1, log) as llm:
            # five 128-token chunks: only their second halves are scored
            tokens, prefix = tokenize_text(llm, EVAL_TEXT[:2200])
            reference = Reference(llm, perplexity_chunks(prefix + tokens, prefix, 128), tmp_path)
        kl = {}
        for path in (plain, weighted):
            with open_for_logits(path, 128, 1, log) as llm:
                kl[path.stem] = reference.compare(llm).whole.kl_mean
        reference.close()
    assert kl["weighted"] < 0.9 * kl["plain"], kl
