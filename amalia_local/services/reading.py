"""How far the reading of a prompt has got: tokens read of total, rate, time left.

On a CPU a long document is read at 10-30 tokens a second, minutes before the first
word of the answer; this is what says the program is working and when it will answer.
The engine only updates two numbers in the reply's stats (no callback into Python
while it computes); the displays poll them: ``run`` on stderr when it is a terminal,
the chat in its status line.
"""

from __future__ import annotations

import shutil
import threading
import time
from typing import TextIO

from amalia_local.engine.stats import ReplyStats, StopReason
from amalia_local.i18n import Translator
from amalia_local.progress import format_duration

# Reading shorter than this never shows a line (a follow-up question is read at once).
SHOW_AFTER_S = 0.5
REDRAW_EVERY_S = 0.5


def reading_text(stats: ReplyStats, translator: Translator) -> str | None:
    """The progress sentence while the prompt is being read, else None."""
    total = stats.prompt_tokens
    if not total or stats.sampled_tokens or stats.stop_reason is StopReason.CANCELLED:
        return None
    numbers = translator.numbers
    read = min(stats.prompt_tokens_read, total)
    evaluated = read - stats.prompt_tokens_cached
    if evaluated <= 0 or stats.prompt_read_seconds <= 0:
        return translator.t("progress.reading_start", total=numbers.count(total))
    rate = evaluated / stats.prompt_read_seconds
    return translator.t(
        "progress.reading",
        done=numbers.count(read),
        total=numbers.count(total),
        rate=numbers.decimal(rate),
        left=format_duration((total - read) / rate),
    )


class ReadingLine:
    """One line on a terminal's stderr, redrawn in place and erased when the answer starts.

    ``show`` is called from the waiting thread, ``clear`` from the one writing the answer:
    a lock keeps a late redraw from landing in the middle of the answer.
    """

    def __init__(self, stream: TextIO, translator: Translator) -> None:
        self._stream = stream
        self._translator = translator
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._drawn_at = 0.0
        self._visible = False
        self._done = False

    def show(self, stats: ReplyStats) -> None:
        now = time.monotonic()
        if (
            self._done
            or now - self._started < SHOW_AFTER_S
            or now - self._drawn_at < REDRAW_EVERY_S
        ):
            return
        text = reading_text(stats, self._translator)
        if text is None:
            return
        width = max(20, shutil.get_terminal_size().columns - 1)
        with self._lock:
            if self._done:
                return
            self._stream.write(f"\r{text[:width]}\x1b[K")
            self._stream.flush()
            self._visible = True
            self._drawn_at = now

    def clear(self) -> None:
        """Erase the line (if drawn) and draw no more."""
        with self._lock:
            self._done = True
            if self._visible:
                self._stream.write("\r\x1b[K")
                self._stream.flush()
                self._visible = False
