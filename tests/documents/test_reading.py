"""The reading progress: its sentence, the terminal line run draws and erases, and that
run draws it on a terminal's stderr only."""

from __future__ import annotations

import io
import json
import os
import pty
import subprocess
import sys
import time

import pytest
from document_files import write_docx
from user_process import run_as_user, user_cwd

from amalia_local.engine.stats import ReplyStats
from amalia_local.i18n import Translator
from amalia_local.services.reading import ReadingLine, reading_text


def _reading(read: int) -> ReplyStats:
    return ReplyStats(
        prompt_tokens=16_000, prompt_tokens_cached=1_000, prompt_tokens_read=read,
        prompt_read_seconds=100.0,
    )  # fmt: skip


def test_sentence_in_both_languages() -> None:
    stats = _reading(3_000)  # 2,000 read in 100 s: 20 a second, 13,000 to go
    assert reading_text(stats, Translator("en")) == (
        "reading 3,000 of 16,000 tokens · 20.0 tokens/s · 10:50 left"
    )
    assert reading_text(stats, Translator("pt")) == (
        "a ler 3000 de 16\u202f000 tokens · 20,0 tokens/s · faltam 10:50"
    )
    assert reading_text(_reading(1_000), Translator("en")) == "reading 16,000 tokens…"
    stats.sampled_tokens = 1  # the answer has started: nothing to say
    assert reading_text(stats, Translator("en")) is None


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_line_is_redrawn_in_place_and_erased_for_good() -> None:
    term = _Terminal()
    line = ReadingLine(term, Translator("en"))
    line.show(_reading(3_000))
    assert term.getvalue() == ""  # the first half second: a quick prompt shows nothing
    line._started -= 1.0
    line.show(_reading(3_000))
    assert term.getvalue() == "\rreading 3,000 of 16,000 tokens · 20.0 tokens/s · 10:50 left\x1b[K"
    line.clear()
    assert term.getvalue().endswith("\x1b[K\r\x1b[K")
    drawn = term.getvalue()
    line._drawn_at = 0.0
    line.show(_reading(5_000))  # a late tick after the answer started draws nothing
    assert term.getvalue() == drawn


@pytest.mark.smollm
def test_run_draws_progress_on_a_terminal_only(smollm, cli_env, tmp_path) -> None:
    rule = "Article {n}. A complaint must be made within fifteen working days, in writing. "
    doc = write_docx(tmp_path / "rules.docx", [rule.format(n=n) for n in range(150)])
    args = [sys.executable, "-m", "amalia_local", "run", str(smollm), "Summarise.",
            "--file", str(doc), "--ctx", "4096", "--threads", "1", "--max-tokens", "4",
            "--no-save"]  # fmt: skip
    controller, terminal = pty.openpty()
    started = time.monotonic()
    process = subprocess.Popen(
        args,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=terminal,
        env=cli_env,
        cwd=user_cwd(cli_env),
    )
    os.close(terminal)
    stderr = b""
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # the process closed its end
            break
        if not chunk:
            break
        stderr += chunk
    answer = process.stdout.read().decode()
    assert process.wait() == 0
    os.close(controller)
    text = stderr.decode()
    assert "\rreading " in text and " tokens/s · " in text, (text, time.monotonic() - started)
    assert text.endswith("\r\x1b[K")  # erased before the answer
    assert "reading" not in answer and answer.strip()
    # The same run with stderr a pipe (and with --json): not a trace of it.
    piped = run_as_user([*args, "--json"], cli_env, timeout=300)
    assert piped.returncode == 0 and piped.stderr == ""
    assert json.loads(piped.stdout)["documents"][0]["name"] == "rules.docx"
