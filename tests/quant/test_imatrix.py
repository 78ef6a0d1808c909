"""The importance matrix: right values (checked by hand on layer 0) and used by llama.cpp."""

from __future__ import annotations

import json
from pathlib import Path

import gguf
import llama_cpp
import numpy as np
import pytest

from amalia_local.engine.llama_log import LlamaLogSink
from quant.cli import main
from quant.evaluate import make_windows
from quant.imatrix import compute

ROOT = Path(__file__).resolve().parents[2]
CALIBRATION = (ROOT / "quant" / "data" / "calibration_pt.txt").read_text(encoding="utf-8")
CTX = 128


@pytest.fixture(scope="module")
def calibration(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("calib") / "calib.txt"
    path.write_text(CALIBRATION[:700], encoding="utf-8")
    return path


def test_layer0_inputs_match_rms_normed_embeddings(
    tmp_path: Path, quant_source: Path, calibration: Path
) -> None:
    """blk.0.attn_q sees RMSNorm(embedding) (norm weights are 1): recompute it in numpy."""
    text = calibration.read_text(encoding="utf-8")
    with LlamaLogSink(tmp_path / "llama.log") as log:
        imatrix = compute(quant_source, text, log, n_ctx=CTX, threads=1)

    vocab = llama_cpp.Llama(str(quant_source), vocab_only=True, verbose=False)
    try:
        tokens = vocab.tokenize(text.encode(), add_bos=False)
        windows = make_windows(tokens, [vocab.token_bos()], CTX)
    finally:
        vocab.close()
    reader = gguf.GGUFReader(quant_source)
    embd = next(t for t in reader.tensors if t.name == "token_embd.weight")
    table = np.asarray(embd.data, dtype=np.float64)  # (n_vocab, n_embd)
    x = table[[t for w in windows.windows for t in w]]
    normed = x / np.sqrt(np.mean(x * x, axis=1, keepdims=True) + 1e-5)
    expected = np.mean(normed * normed, axis=0)

    assert imatrix.n_tokens == len(x)
    for name in ("blk.0.attn_q.weight", "blk.0.attn_k.weight", "blk.0.attn_v.weight"):
        np.testing.assert_allclose(imatrix.values[name], expected, rtol=2e-3)
    assert imatrix.values["blk.1.ffn_down.weight"].shape == (512,)  # n_ff inputs
    # the last layer and the output projection see every token too (all logits asked for)
    assert set(imatrix.values) == {
        f"blk.{i}.{w}.weight"
        for i in range(2)
        for w in ("attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down")
    } | {"output.weight"}
    assert all(np.all(v > 0) and np.all(np.isfinite(v)) for v in imatrix.values.values())


def test_types_that_need_an_imatrix_work_with_one(
    tmp_path: Path,
    quant_source: Path,
    calibration: Path,
    short_eval: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    outdir = tmp_path / "out"
    code = main([str(quant_source), "--types", "IQ2_XS,Q3_K_M", "--imatrix", str(calibration),
                 "--outdir", str(outdir), "--eval", str(short_eval), "--ctx", str(CTX),
                 "--reps", "0", "--threads", "1", "--quiet", "--name", "Pequeno",
                 "--no-variety"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    reader = gguf.GGUFReader(outdir / "tiny-IQ2_XS.gguf")
    assert int(reader.fields["general.file_type"].contents()) == int(
        gguf.LlamaFileType.MOSTLY_IQ2_XS
    )
    report = json.loads((outdir / "report.json").read_text(encoding="utf-8"))
    assert report["imatrix"].startswith("calib.txt (")
    assert report["model_name"] == "Pequeno"
    assert "Importance matrix: `calib.txt (" in (outdir / "report.md").read_text(encoding="utf-8")


def test_empty_calibration_text_is_refused(
    tmp_path: Path, quant_source: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("\n", encoding="utf-8")
    outdir = tmp_path / "out"
    code = main([str(quant_source), "--imatrix", str(empty), "--outdir", str(outdir), "--quiet"])
    err = capsys.readouterr().err
    assert code == 1 and err.strip() == f"error: calibration text is empty: {empty}"
    assert not outdir.exists()
