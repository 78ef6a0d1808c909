"""``python -m convert --verify``: passes on a right GGUF, fails on deliberately wrong ones."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from amalia_local.engine.tokenizer import SpacePrefix
from convert.cli import main
from convert.verify import read_record, record_path
from quant.report import Report, verification_text


def _verify(capsys: pytest.CaptureFixture[str], hf_dir: Path, model: Path) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["--verify", str(hf_dir), str(model)])
    out, err = capsys.readouterr()
    return code, out + err


def test_right_gguf_passes_and_leaves_a_record(
    checkpoint: Callable[[str], Path],
    converted: Callable[..., Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    model = converted("tok_json_first")
    code, out = _verify(capsys, checkpoint("tok_json_first"), model)
    assert code == 0, out
    assert "MISMATCH" not in out
    assert "chat (4 turns)" in out and "logits (" in out
    record = read_record(model)
    assert record is not None and record["passed"] and record["checks"] == "token ids and logits"
    assert json.loads(record_path(model).read_text())["transformers"]
    # quant's model card for this source says so, with the date
    report = Report(
        model_name="tiny",
        source_file=model.name,
        source_type="F32",
        parameters=0,
        eval_text="eval.txt",
        eval_sha256="0" * 64,
        n_ctx=128,
        n_windows=0,
        threads=1,
        llama_cpp_version="x",
        rungs=[],
        verification=record,
    )
    text = verification_text(report)
    assert f"`{model.name}` passed `python -m convert --verify`" in text
    assert record["date"] in text and "token ids and logits" in text
    # a file changed after verification no longer counts as verified
    os.utime(model, ns=(record["mtime_ns"] + 10**9, record["mtime_ns"] + 10**9))
    assert read_record(model) is None


def test_wrong_prefix_rule_fails(
    checkpoint: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """The same vocabulary with SentencePiece's rule where transformers uses "first"."""
    from convert.core import prepare, write_gguf
    from convert.tensors import OutType

    prep = prepare(checkpoint("tok_json_first"), OutType.F32)
    prep.vocab.space_prefix = SpacePrefix.SENTENCEPIECE
    prep.vocab.add_space_prefix = True
    wrong = tmp_path / "wrong-rule.gguf"
    write_gguf(prep, wrong, show_progress=False)
    code, out = _verify(capsys, checkpoint("tok_json_first"), wrong)
    assert code == 1
    assert "chat (4 turns)" in out and "MISMATCH" in out
    assert "checks differ from transformers" in out
    assert read_record(wrong) is None and not record_path(wrong).exists()


def test_wrong_weights_fail_on_logits(
    checkpoint: Callable[[str], Path],
    make_checkpoint: Callable[..., Path],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """Same tokenizer files, other random weights: every token check passes, logits tell."""
    from convert.core import prepare, write_gguf
    from convert.tensors import OutType

    other = make_checkpoint("verify_other_seed", layout="json", seed=7)
    wrong = tmp_path / "other-weights.gguf"
    write_gguf(prepare(other, OutType.F32), wrong, show_progress=False)
    code, out = _verify(capsys, checkpoint("tok_json_first"), wrong)
    assert code == 1
    lines = [line for line in out.splitlines() if "MISMATCH" in line]
    assert len(lines) == 1 and lines[0].startswith("logits ("), out


def test_bad_arguments_are_one_line_errors(
    checkpoint: Callable[[str], Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out = _verify(capsys, checkpoint("tok_json_first"), tmp_path / "missing.gguf")
    assert code == 1 and out.startswith("error: ") and out.count("\n") == 1, out
    code, out = _verify(capsys, tmp_path / "no-such-dir", tmp_path / "missing.gguf")
    assert code == 1 and out.startswith("error: ") and out.count("\n") == 1, out
