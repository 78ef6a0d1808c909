"""A small terminal progress bar for long byte-counting jobs (conversion, downloads).

On a terminal it redraws one line on stderr (bar, amount, rate, ETA); anywhere else
(CI logs, pipes) it prints a plain line at most every ``interval`` seconds, so logs stay
readable instead of filling with carriage returns. It never writes to stdout, which is
left to the program's real output.

    with Progress(total=n_bytes, label="converting") as bar:
        for chunk in work():
            bar.update(len(chunk))
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

from amalia_local.formatting import ENGLISH, NumberFormat
from amalia_local.i18n import Translator

_BAR_WIDTH = 24


def format_amount(n: float, unit: str, numbers: NumberFormat = ENGLISH) -> str:
    """1234567 B -> '1.2 MB' (1,2 MB in pt); other units get a whole count, 1,234 tensors."""
    if unit != "B":
        return f"{numbers.count(round(n))} {unit}".rstrip()
    return numbers.bytes(n)


def format_duration(seconds: float) -> str:
    """Seconds as 'm:ss' or 'h:mm:ss'."""
    s = max(0, round(seconds))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def format_step_time(seconds: float, numbers: NumberFormat = ENGLISH) -> str:
    """How long one step takes: '2.5 s', '12 s', or 'm:ss' from a minute up."""
    if seconds >= 60:
        return format_duration(seconds)
    text = numbers.decimal(seconds, 1) if seconds < 10 else numbers.count(round(seconds))
    return f"{text} s"


def format_rate(done: float, elapsed: float, unit: str, numbers: NumberFormat = ENGLISH) -> str:
    """Units per second, or, for steps slower than one a second, the time per step.

    A quantization that takes 12 s per tensor would otherwise read "0 tensors/s", which
    looks stalled. Bytes keep B/s: below 1 B/s a download has stalled, and says so.
    """
    rate = done / elapsed
    if unit == "B" or rate >= 1 or done <= 0:
        return f"{format_amount(rate, unit, numbers)}/s"
    step = format_step_time(elapsed / done, numbers)
    return Translator(numbers.lang).t("progress.per_step", time=step)


class Progress:
    """Context manager that reports progress of ``total`` units (bytes by default)."""

    def __init__(
        self,
        total: int | None,
        *,
        unit: str = "B",
        label: str = "",
        stream: TextIO | None = None,
        interval: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        numbers: NumberFormat = ENGLISH,  # the caller's language; convert/ and quant/ are English
    ) -> None:
        self._numbers = numbers
        self.total = total
        self.unit = unit
        self.label = label
        self.done = 0
        self._stream = stream if stream is not None else sys.stderr
        self._tty = bool(getattr(self._stream, "isatty", lambda: False)())
        # a terminal can take ~10 redraws a second; a log file wants a line every few seconds
        self._interval = interval if interval is not None else (0.1 if self._tty else 5.0)
        self._clock = clock
        self._start = 0.0
        self._last = 0.0

    def __enter__(self) -> Progress:
        self._start = self._last = self._clock()
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is None:
            self._draw(final=True)
        elif self._tty:
            self._stream.write("\n")  # leave the partial bar visible above the error
            self._stream.flush()

    def update(self, n: int) -> None:
        """Count ``n`` more units done; redraws at most once per interval."""
        self.done += n
        now = self._clock()
        if now - self._last >= self._interval:
            self._last = now
            self._draw(final=False)

    def _line(self, final: bool) -> str:
        elapsed = max(self._clock() - self._start, 1e-9)
        rate = self.done / elapsed
        has_rate = self.done > 0 or self.unit == "B"  # no step done yet: no rate either
        amount = format_amount(self.done, self.unit, self._numbers)
        parts = [self.label] if self.label else []
        if self.total:
            frac = min(self.done / self.total, 1.0)
            if self._tty:
                filled = int(frac * _BAR_WIDTH)
                parts.append("[" + "#" * filled + "-" * (_BAR_WIDTH - filled) + "]")
            parts.append(f"{frac * 100:3.0f}%")
            amount += f" / {format_amount(self.total, self.unit, self._numbers)}"
        parts.append(amount)
        if has_rate:
            parts.append(format_rate(self.done, elapsed, self.unit, self._numbers))
        if final:
            parts.append(f"in {format_duration(elapsed)}")
        elif self.total and rate > 0:
            parts.append(f"ETA {format_duration((self.total - self.done) / rate)}")
        return "  ".join(parts)

    def _draw(self, final: bool) -> None:
        line = self._line(final)
        if self._tty:
            self._stream.write("\r\x1b[2K" + line + ("\n" if final else ""))
        else:
            self._stream.write(line + "\n")
        self._stream.flush()
