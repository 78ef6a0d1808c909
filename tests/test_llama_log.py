"""llama.cpp's C log goes to a file; a line logged after the file closed is dropped."""

from __future__ import annotations

from pathlib import Path

from amalia_local.engine.llama_log import LlamaLogSink


def test_a_line_logged_after_the_file_closed_is_dropped_quietly(tmp_path: Path):
    sink = LlamaLogSink(tmp_path / "llama.log")
    try:
        sink._on_log(2, b"before\n", None)
        sink.stream.close()  # as at interpreter exit, with a generation thread still logging
        sink._on_log(2, b"after\n", None)  # must not raise into ctypes (a traceback on screen)
    finally:
        sink.close()
    assert (tmp_path / "llama.log").read_text(encoding="utf-8") == "before\n"
