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
from conftest import EVAL_TEXT

pytestmark = pytest.mark.smollm
ROOT = Path(__file__).resolve().parents[2]
TYPES = ("Q8_0", "Q4_K_M", "Q3_K_M")


def test_kl_grows_as_bits_fall_and_the_report_ranks_so(
    smollm: Path,
    tmp_path: Path,
    quant_cli: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    text = tmp_path / "eval.txt"
    text.write_text(EVAL_TEXT[:700], encoding="utf-8")
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
