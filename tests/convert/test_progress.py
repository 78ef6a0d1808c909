"""amalia_local.progress: plain periodic lines off a terminal, a redrawn bar on one."""

from __future__ import annotations

import io

import pytest

from amalia_local.formatting import NumberFormat
from amalia_local.progress import Progress, format_amount, format_duration, format_rate


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_lines_when_not_a_tty() -> None:
    out, clock = io.StringIO(), FakeClock()
    with Progress(total=4_000_000, label="converting", stream=out, clock=clock) as bar:
        clock.now += 1
        bar.update(1_000_000)  # 1 s < 5 s interval: nothing yet
        clock.now += 5
        bar.update(1_000_000)  # 2 MB in 6 s
        clock.now += 2
        bar.update(2_000_000)
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    assert lines[0] == "converting   50%  2.0 MB / 4.0 MB  333.3 kB/s  ETA 0:06"
    assert lines[-1] == "converting  100%  4.0 MB / 4.0 MB  500.0 kB/s  in 0:08"
    assert len(lines) == 2


def test_tty_redraws_one_line_with_bar() -> None:
    out, clock = Tty(), FakeClock()
    with Progress(total=100, unit="tensors", stream=out, clock=clock) as bar:
        for _ in range(4):
            clock.now += 1
            bar.update(25)
    text = out.getvalue()
    assert text.count("\n") == 1 and text.endswith("\n")
    assert text.count("\r\x1b[2K") == 5
    assert "[######------------------]   25%" in text
    assert "100 tensors / 100 tensors" in text


def test_error_leaves_partial_bar_and_no_final_line() -> None:
    out, clock = Tty(), FakeClock()
    with pytest.raises(RuntimeError), Progress(total=10, stream=out, clock=clock) as bar:
        clock.now += 1
        bar.update(3)
        raise RuntimeError
    assert out.getvalue().endswith("\n") and "in 0:" not in out.getvalue()


def test_unknown_total_and_formatting() -> None:
    out, clock = io.StringIO(), FakeClock()
    with Progress(total=None, stream=out, clock=clock) as bar:
        clock.now += 2
        bar.update(3_500_000_000)
    assert out.getvalue() == "3.5 GB  1.8 GB/s  in 0:02\n"
    assert format_amount(999, "B") == "999 B"
    assert format_amount(1_234_567_890_123_456, "B") == "1,234.6 TB"
    assert format_duration(3725) == "1:02:05"


def test_numbers_follow_the_language_of_whoever_draws_the_bar() -> None:
    """`amalia pull` in Portuguese: 2,0 MB / 4,0 MB  333,3 kB/s, and 12 345 tensors."""
    out, clock = io.StringIO(), FakeClock()
    pt = NumberFormat("pt")
    with Progress(
        total=4_000_000, label="a transferir", stream=out, clock=clock, numbers=pt
    ) as bar:
        clock.now += 6
        bar.update(2_000_000)
        clock.now += 2
        bar.update(2_000_000)
    lines = out.getvalue().splitlines()
    assert lines[0] == "a transferir   50%  2,0 MB / 4,0 MB  333,3 kB/s  ETA 0:06"
    assert lines[-1] == "a transferir  100%  4,0 MB / 4,0 MB  500,0 kB/s  in 0:08"
    assert format_amount(12_345, "tensors", pt) == "12\u202f345 tensors"
    assert format_amount(12_345, "tensors") == "12,345 tensors"


def test_slow_steps_show_the_time_per_step_not_zero_a_second() -> None:
    """Quantizing a big tensor takes seconds: '12 s/step', never '0 tensors/s'."""
    out, clock = io.StringIO(), FakeClock()
    with Progress(total=10, unit="tensors", label="Q4_K", stream=out, clock=clock) as bar:
        clock.now += 24
        bar.update(2)  # 2 tensors in 24 s
        clock.now += 126
        bar.update(1)  # 3 in 150 s: 50 s each
    lines = out.getvalue().splitlines()
    assert lines[0] == "Q4_K   20%  2 tensors / 10 tensors  12 s/step  ETA 1:36"
    assert lines[-1] == "Q4_K   30%  3 tensors / 10 tensors  50 s/step  in 2:30"
    assert "tensors/s" not in out.getvalue()


def test_time_per_step_in_portuguese_and_from_a_minute_up() -> None:
    pt = NumberFormat("pt")
    assert format_rate(2, 5, "tensors", pt) == "2,5 s/passo"
    assert format_rate(2, 5, "tensors") == "2.5 s/step"
    assert format_rate(1, 95, "tensors", pt) == "1:35/passo"
    assert format_rate(3, 2, "tensors") == "2 tensors/s"  # one a second or more: a rate
    # Bytes keep B/s: a download below 1 B/s has stalled, and "0 B/s" says so.
    assert format_rate(1, 4, "B") == "0 B/s"


def test_no_rate_before_the_first_step() -> None:
    out, clock = io.StringIO(), FakeClock()
    with Progress(total=4, unit="tensors", stream=out, clock=clock, interval=1) as bar:
        clock.now += 30
        bar.update(0)
        bar.update(4)
    first = out.getvalue().splitlines()[0]
    assert first == "  0%  0 tensors / 4 tensors"
