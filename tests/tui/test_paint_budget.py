"""The streaming answer is repainted less often when painting costs more than its budget."""

from __future__ import annotations

from amalia_local.tui.paint_budget import PaintBudget


def stream(budget: PaintBudget, per_update: float, seconds: float) -> list[float]:
    """A UI thread that spends ``per_update`` CPU seconds on each hand-off."""
    cpu = wall = 0.0
    interval = budget.next_interval(0.2, cpu, wall)
    chosen = []
    while wall < seconds:
        cpu, wall = cpu + per_update, wall + interval
        interval = budget.next_interval(interval, cpu, wall)
        chosen.append(interval)
    return chosen


def test_cheap_painting_keeps_five_updates_a_second():
    chosen = stream(PaintBudget(budget=0.02), per_update=0.002, seconds=5)  # 1% of a core
    assert set(chosen) == {0.2}


def test_costly_painting_updates_less_often_and_stays_within_the_budget():
    chosen = stream(PaintBudget(budget=0.02, longest=1.0), per_update=0.008, seconds=10)
    assert chosen[:4] == [0.2] * 4  # the first second is only measured
    assert abs(chosen[-1] - 0.4) < 1e-9  # 8 ms every 0.4 s: 2% of a core


def test_never_less_often_than_the_longest_interval():
    chosen = stream(PaintBudget(budget=0.02, longest=1.0), per_update=0.1, seconds=10)
    assert max(chosen) == 1.0


def test_the_first_call_only_starts_the_clocks():
    assert PaintBudget().next_interval(0.3, cpu=5.0, wall=7.0) == 0.3
