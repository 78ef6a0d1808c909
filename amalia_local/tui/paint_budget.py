"""How often the chat repaints a streaming answer: as often as its CPU budget allows.

On a laptop the model's threads use every core, so each millisecond the UI thread
spends painting is taken from the model. Five updates a second read as streaming; when
painting them costs more than ``budget`` of one core (a very fast model writing many
lines, a slow terminal) updates come less often, never less than every ``longest`` s.
The UI thread's CPU is averaged over a second or more, so the start of an answer (a new
box to lay out) or one long code block does not throttle the rest of it.
"""

from __future__ import annotations

from dataclasses import dataclass

from amalia_local.services.chat import UI_INTERVAL_S

SHORTEST_S = UI_INTERVAL_S
LONGEST_S = 0.5
BUDGET = 0.02  # share of one core the UI thread may use while an answer streams
WINDOW_S = 1.0


@dataclass
class PaintBudget:
    budget: float = BUDGET
    shortest: float = SHORTEST_S
    longest: float = LONGEST_S
    window: float = WINDOW_S
    _cpu: float | None = None
    _wall: float = 0.0

    def next_interval(self, interval: float, cpu: float, wall: float) -> float:
        """The hand-off interval to use from now on, given the UI thread's CPU clock and
        the wall clock now (both in seconds) and the interval in use."""
        if self._cpu is None:
            self._cpu, self._wall = cpu, wall
            return interval
        elapsed = wall - self._wall
        if elapsed < self.window:
            return interval
        share = (cpu - self._cpu) / elapsed
        self._cpu, self._wall = cpu, wall
        # Painting costs about the same per update, so the share scales with the rate.
        return min(self.longest, max(self.shortest, interval * share / self.budget))
