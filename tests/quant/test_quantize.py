"""One rung: progress from llama.cpp's log, temporary name, the bar on stderr."""

from __future__ import annotations

import io
from pathlib import Path

import gguf

from amalia_local.engine.llama_log import LlamaLogSink
from amalia_local.progress import Progress
from quant.quantize import partial_name, quantize_file
from quant.types import QUANT_TYPES, file_type_name, parse_types


def test_progress_counts_every_tensor_while_writing_a_temporary_file(
    tmp_path: Path, quant_source: Path
) -> None:
    n_tensors = len(gguf.GGUFReader(quant_source).tensors)
    dest = tmp_path / "tiny-Q4_K_M.gguf"
    seen: list[tuple[int, int, bool, bool]] = []

    def on_tensor(i: int, n: int) -> None:
        seen.append((i, n, partial_name(dest).exists(), dest.exists()))

    with LlamaLogSink(tmp_path / "llama.log") as log:
        quantize_file(
            quant_source, dest, QUANT_TYPES["Q4_K_M"], log, threads=1, on_tensor=on_tensor
        )
        assert log.listener is None  # handed back
    assert [(i, n) for i, n, _, _ in seen] == [(i, n_tensors) for i in range(1, n_tensors + 1)]
    # while llama.cpp works only the hidden temporary exists; afterwards only the result
    assert all(tmp and not final for _, _, tmp, final in seen)
    assert dest.exists() and not partial_name(dest).exists()
    # llama.cpp's own log lines still reach the log file
    assert "blk.0.attn_q.weight" in (tmp_path / "llama.log").read_text(encoding="utf-8")


def test_progress_bar_reports_tensors(tmp_path: Path, quant_source: Path) -> None:
    stream = io.StringIO()
    n = len(gguf.GGUFReader(quant_source).tensors)
    with (
        LlamaLogSink(tmp_path / "llama.log") as log,
        Progress(total=n, unit="tensors", label="Q8_0", stream=stream) as bar,
    ):
        done = [0]

        def tick(i: int, _n: int) -> None:
            bar.update(i - done[0])
            done[0] = i

        quantize_file(quant_source, tmp_path / "o.gguf", QUANT_TYPES["Q8_0"], log, on_tensor=tick)
    assert f"{n} tensors / {n} tensors" in stream.getvalue().splitlines()[-1]


def test_type_names_follow_llama_cpp() -> None:
    assert [t.name for t in parse_types("q8_0, Q4_K_M,iq4_xs")] == ["Q8_0", "Q4_K_M", "IQ4_XS"]
    assert file_type_name(15) == "Q4_K_M" and file_type_name(0) == "F32"
    assert file_type_name(32) == "BF16" and file_type_name(9999) is None
    for qtype in QUANT_TYPES.values():  # every name maps to gguf's own enum value
        expected = "ALL_F32" if qtype.name == "F32" else f"MOSTLY_{qtype.name}"
        assert qtype.ftype is gguf.LlamaFileType[expected]
