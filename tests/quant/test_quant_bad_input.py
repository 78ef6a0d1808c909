"""Every kind of bad input: one ``error:`` line, non-zero exit, nothing left behind."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from amalia_local.engine.llama_log import LlamaLogSink
from quant.cli import main
from quant.errors import QuantizeFailed
from quant.quantize import partial_name, quantize_file
from quant.types import QUANT_TYPES


@pytest.fixture(scope="module")
def quantized_source(tmp_path_factory: pytest.TempPathFactory, quant_source: Path) -> Path:
    """The tiny model already quantized to Q8_0 (a typical 'wrong' source)."""
    out = tmp_path_factory.mktemp("q8") / "tiny-Q8_0.gguf"
    with LlamaLogSink(out.parent / "llama.log") as log:
        quantize_file(quant_source, out, QUANT_TYPES["Q8_0"], log, threads=1)
    return out


def _fails(
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    outdir: Path,
    *fragments: str,
    code: int = 1,
) -> str:
    exit_code = main([*args, "--outdir", str(outdir), "--quiet", "--reps", "0"])
    err = capsys.readouterr().err
    assert exit_code == code, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert not outdir.exists() or list(outdir.iterdir()) == []
    return lines[0]


def test_missing_source(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _fails(capsys, [str(tmp_path / "nope.gguf")], tmp_path / "out", "source not found")
    assert not (tmp_path / "out").exists()  # not even created


def test_source_not_gguf(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fake = tmp_path / "model.gguf"
    fake.write_text("<html>not a model</html>", encoding="utf-8")
    _fails(capsys, [str(fake)], tmp_path / "out", "GGUF")


def test_truncated_source(
    tmp_path: Path, quant_source: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(quant_source.read_bytes()[: quant_source.stat().st_size // 2])
    _fails(capsys, [str(cut)], tmp_path / "out", "cut.gguf")


def test_quantized_source_needs_allow_requantize(
    tmp_path: Path, quantized_source: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = _fails(capsys, [str(quantized_source)], tmp_path / "out", "already quantized (Q8_0)")
    assert "--allow-requantize" in line


@pytest.mark.parametrize(
    ("types", "fragment"),
    [
        ("Q4_K_X", "unknown quantization type 'Q4_K_X'"),
        ("Q8_0,,Q9", "unknown quantization type 'Q9'"),
        ("TQ1_0", "not supported here"),
        ("IQ2_XS", "needs an importance matrix"),
        ("Q8_0,q8_0", "listed twice"),
        (",", "--types is empty"),
    ],
)
def test_bad_types_are_refused_before_any_work(
    tmp_path: Path,
    quant_source: Path,
    capsys: pytest.CaptureFixture[str],
    types: str,
    fragment: str,
) -> None:
    _fails(capsys, [str(quant_source), "--types", types], tmp_path / "out", fragment, code=2)
    assert not (tmp_path / "out").exists()


def test_empty_eval_text(
    tmp_path: Path, quant_source: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text(" \n\n\t\n", encoding="utf-8")
    _fails(capsys, [str(quant_source), "--eval", str(empty)], tmp_path / "out", "empty")


def test_missing_eval_text(
    tmp_path: Path, quant_source: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _fails(
        capsys,
        [str(quant_source), "--eval", str(tmp_path / "none.txt")],
        tmp_path / "out",
        "evaluation text not found",
    )


def test_eval_text_too_short_leaves_no_scratch(
    tmp_path: Path, quant_source: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Found out only after tokenizing, i.e. after quantizing: rungs stay, scratch goes."""
    short = tmp_path / "short.txt"
    short.write_text("Olá.", encoding="utf-8")
    outdir = tmp_path / "out"
    code = main([str(quant_source), "--types", "Q8_0", "--eval", str(short), "--outdir",
                 str(outdir), "--quiet", "--reps", "0"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("error: the evaluation text is too short")
    assert [p.name for p in outdir.iterdir()] == ["tiny-Q8_0.gguf"]  # complete, usable


def test_outdir_under_a_file(
    tmp_path: Path, quant_source: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    _fails(capsys, [str(quant_source)], blocker / "out", "cannot create the output directory")
    assert blocker.read_text(encoding="utf-8") == "x"


def test_outdir_is_a_file(
    tmp_path: Path, quant_source: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    code = main([str(quant_source), "--outdir", str(blocker), "--quiet"])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("error: ") and len(err.strip().splitlines()) == 1


def test_not_enough_space_with_keep_free(
    tmp_path: Path, quant_source: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--keep-free is a real option (keep room for other work); 1 PB never fits."""
    line = _fails(
        capsys, [str(quant_source), "--keep-free", "1000T"], tmp_path / "out", "not enough free"
    )
    assert "needs about" in line
    assert not (tmp_path / "out").exists()  # the directory we created is removed again


def test_missing_calibration_text(
    tmp_path: Path, quant_source: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _fails(
        capsys,
        [str(quant_source), "--imatrix", str(tmp_path / "calib.txt")],
        tmp_path / "out",
        "calibration text not found",
    )


def test_llama_cpp_failure_leaves_no_file(tmp_path: Path, quantized_source: Path) -> None:
    """llama.cpp itself refuses (requantizing without permission): its reason, no file."""
    dest = tmp_path / "out.gguf"
    with (
        LlamaLogSink(tmp_path / "llama.log") as log,
        pytest.raises(QuantizeFailed, match="requantiz"),
    ):
        quantize_file(quantized_source, dest, QUANT_TYPES["Q4_K_M"], log, threads=1)
    assert list(tmp_path.iterdir()) == [tmp_path / "llama.log"]
    assert not partial_name(dest).exists()


def test_debug_shows_the_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main([str(tmp_path / "x.gguf"), "--outdir", str(tmp_path / "o"), "--debug"])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" in err and err.strip().endswith("x.gguf")


# --- real small file systems (tmpfs in a private mount namespace) ------------------------
def _mount_namespaces_work() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True, check=False)
    return probe.returncode == 0


def _on_tmpfs(
    tmp_path: Path, options: str, args: list[str]
) -> tuple[subprocess.CompletedProcess[str], str]:
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    listing = tmp_path / "listing"
    script = (
        f'mount -t tmpfs -o {options} tmpfs "$1" && shift && "$@"; status=$?; '
        f'ls -A "{mnt}" > "{listing}"; exit $status'
    )
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        ["unshare", "-m", "sh", "-c", script, "sh", str(mnt), sys.executable, "-m", "quant",
         *args, "--outdir", str(mnt / "out"), "--quiet", "--reps", "0"],
        cwd=root, capture_output=True, text=True, check=False, timeout=120,
        env={"PATH": "/usr/bin:/bin", "AMALIA_HOME": str(tmp_path / "home")},
    )  # fmt: skip
    return result, listing.read_text(encoding="utf-8")


needs_unshare = pytest.mark.skipif(
    not _mount_namespaces_work(), reason="unshare -m is not permitted here"
)


@needs_unshare
def test_too_small_file_system_is_refused_up_front(tmp_path: Path, quant_source: Path) -> None:
    result, listing = _on_tmpfs(tmp_path, "size=2m", [str(quant_source), "--types", "Q8_0,Q6_K"])
    assert result.returncode == 1, result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith("error: not enough free space in ") and "MB is free" in line
    assert listing == ""


@needs_unshare
def test_read_only_output_is_refused(tmp_path: Path, quant_source: Path) -> None:
    result, listing = _on_tmpfs(tmp_path, "size=64m,ro", [str(quant_source)])
    assert result.returncode == 1, result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith("error: cannot create the output directory"), line
    assert listing == ""


def test_real_entry_point_bad_type(
    quant_cli: Callable[..., subprocess.CompletedProcess[str]], quant_source: Path, tmp_path: Path
) -> None:
    result = quant_cli(str(quant_source), "--types", "Q5_K_X", "--outdir", str(tmp_path / "o"))
    assert result.returncode == 2
    assert result.stderr.startswith("error: unknown quantization type 'Q5_K_X'")
    assert len(result.stderr.splitlines()) == 1 and result.stdout == ""
