"""Per-key allowances: requests per minute and tokens per day, over sliding windows.

A request is admitted or refused when it arrives (429 with ``Retry-After``, the seconds
until the window has room again); its tokens are counted when it ends, as
``usage.total_tokens`` counts them (prompt, cached included, plus completion). So a
request that starts under the daily allowance finishes, and the next one waits.

Windows slide rather than reset at a fixed hour: nobody gets two allowances back to
back around midnight. The state is bounded per key: at most ``requests_per_minute``
timestamps, and at most one bucket per minute of the last day (1,440). Everything here
runs on the event loop's thread, so nothing is locked.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from amalia_local.server.keys import KeyLimits

MINUTE_S = 60.0
DAY_S = 86_400.0
BUCKET_S = 60.0  # tokens are counted per minute of the day


@dataclass(frozen=True)
class Refusal:
    kind: str  # "requests" or "tokens" (OpenAI's error type for each)
    limit: int
    retry_after: int  # whole seconds, at least 1


@dataclass
class _Usage:
    requests: deque[float] = field(default_factory=deque)  # arrival times, last minute
    buckets: deque[list[float]] = field(default_factory=deque)  # [minute start, tokens]
    tokens: float = 0  # sum of the buckets


class Limiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._usage: dict[str, _Usage] = {}

    def admit(self, name: str, limits: KeyLimits) -> Refusal | None:
        """Count this request against ``name``, or say why and how long it must wait."""
        if not limits.any:
            return None
        now = self._clock()
        usage = self._usage.setdefault(name, _Usage())
        if limits.tokens_per_day is not None:
            wait = self._tokens_wait(usage, limits.tokens_per_day, now)
            if wait is not None:
                return Refusal("tokens", limits.tokens_per_day, _whole(wait))
        if limits.requests_per_minute is not None:
            times = usage.requests
            while times and now - times[0] >= MINUTE_S:
                times.popleft()
            while len(times) > limits.requests_per_minute:  # the limit was lowered
                times.popleft()
            if len(times) >= limits.requests_per_minute:
                return Refusal(
                    "requests", limits.requests_per_minute, _whole(MINUTE_S - (now - times[0]))
                )
            times.append(now)
        return None

    def spend(self, name: str, tokens: int) -> None:
        """Add a finished request's tokens to ``name``'s day (only keys with limits)."""
        usage = self._usage.get(name)
        if usage is None or tokens <= 0:
            return
        now = self._clock()
        start = now - now % BUCKET_S
        if usage.buckets and usage.buckets[-1][0] == start:
            usage.buckets[-1][1] += tokens
        else:
            usage.buckets.append([start, tokens])
        usage.tokens += tokens

    def _tokens_wait(self, usage: _Usage, limit: int, now: float) -> float | None:
        buckets = usage.buckets
        while buckets and now - buckets[0][0] >= DAY_S:
            usage.tokens -= buckets.popleft()[1]
        if usage.tokens < limit:
            return None
        # The oldest buckets leave the day first: wait until enough of them have.
        left = usage.tokens
        for start, tokens in buckets:
            left -= tokens
            if left < limit:
                return start + DAY_S - now
        return DAY_S  # unreachable: the last bucket brings it to 0


def _whole(seconds: float) -> int:
    return max(1, math.ceil(seconds))
