"""Before a prompt is evaluated: put as much of it into the KV cache as can be had for free.

Four sources, cheapest first: the tokens already cached (a common prefix), the same
tokens after a gap (older turns were dropped: cut them out and shift the rest back, see
KvMemory.cut), another sequence of the same context holding a longer prefix (serve's
slots: its cells are copied, a :class:`Donor`), or a state saved on disk by this or an
earlier process (StateCache). Only what none of them covers is evaluated.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from amalia_local.engine.state_cache import StateCache


class CacheView(Protocol):
    """One sequence's KV cells seen as tokens: KvMemory (run, chat) or a serve slot."""

    @property
    def can_shift(self) -> bool: ...

    def cached_array(self) -> np.ndarray: ...

    def common_prefix(self, tokens: Sequence[int]) -> int: ...

    def keep(self, n: int) -> None: ...

    def cut(self, start: int, end: int) -> None: ...

    def restore(self, data: bytearray, tokens: Sequence[int]) -> bool: ...


# A shift keeps the cache after the gap only if the prompt continues with all of it (older
# turns were dropped), or with a run this long: a short run could be a phrase that merely
# recurs (an edited question quoting the answer), whose cached context is not the prompt's.
MIN_SHIFT_RUN = 64
MIN_TAIL_RUN = 8
# Loading a state from disk must save at least this many evaluations over the memory.
MIN_RESTORE_GAIN = 32
# Copying another sequence's cells must save at least this many: the copy moves its whole
# KV stream (see SeqMemory.copy_from), ~45 ms for SmolLM2's 94 MB at 4,096 cells on a
# busy 2-core machine, about what evaluating 64 of its tokens costs; a larger model's
# evaluation grows faster than its KV stream does.
MIN_COPY_GAIN = 64


@dataclass(frozen=True)
class Donor:
    """Another sequence of the context holding the prompt's first ``shared`` tokens."""

    shared: int
    copy: Callable[[], bool]  # copies them into this sequence; False: it could not


@dataclass(frozen=True)
class Reuse:
    cached: int  # leading prompt tokens in the cache before evaluation starts
    restored: int = 0  # of those, loaded from a saved state
    cut: int = 0  # cached tokens removed from the middle (dropped turns)
    copied: int = 0  # of those, copied from another sequence (a Donor)


@dataclass(frozen=True)
class _Gap:
    start: int  # first cached position to remove
    end: int  # first cached position kept after the gap
    run: int  # how many tokens after the gap match the prompt


def find_gap(cached: np.ndarray, tokens: Sequence[int], prefix: int) -> _Gap | None:
    """Where the prompt resumes in the cache after ``prefix``, if somewhere later it does.

    The prompt's next token is looked for at every later cached position; the candidate
    with the longest matching run wins, if it runs to the end of the cache or is long.
    """
    if prefix >= len(tokens) or prefix >= len(cached):
        return None
    wanted = np.asarray(tokens[prefix:], dtype=cached.dtype)
    best: _Gap | None = None
    for offset in np.nonzero(cached[prefix + 1 :] == wanted[0])[0]:
        start = prefix + 1 + int(offset)
        n = min(len(cached) - start, len(wanted))
        differ = np.nonzero(cached[start : start + n] != wanted[:n])[0]
        run = int(differ[0]) if len(differ) else n
        if best is None or run > best.run:
            best = _Gap(prefix, start, run)
    if best is None or best.run < MIN_TAIL_RUN:
        return None
    whole_tail = best.end + best.run == len(cached)
    return best if whole_tail or best.run >= MIN_SHIFT_RUN else None


def prepare(
    kv: CacheView,
    states: StateCache | None,
    tokens: Sequence[int],
    n_ctx: int,
    donor: Donor | None = None,
) -> Reuse:
    """Leave the cache holding the longest reusable prefix of ``tokens``.

    A copy that fails leaves the cache empty: the whole prompt is then evaluated.
    """
    prefix = kv.common_prefix(tokens)
    gap = find_gap(kv.cached_array(), tokens, prefix) if kv.can_shift else None
    in_memory = prefix + gap.run if gap else prefix
    if donor is not None and donor.shared < in_memory + MIN_COPY_GAIN:
        donor = None
    held = donor.shared if donor is not None else in_memory
    if states is not None and len(tokens) - held >= MIN_RESTORE_GAIN:
        match = states.best_match(tokens, max_tokens=n_ctx)
        if match is not None and match[1] >= held + MIN_RESTORE_GAIN:
            state, shared = match
            payload = states.read_payload(state)
            if payload is not None:
                if kv.restore(payload, state.tokens.tolist()):
                    kv.keep(shared)
                    return Reuse(cached=shared, restored=shared)
                states.discard(state.path, "llama.cpp could not load it")
                return Reuse(cached=0)
    if donor is not None:
        if donor.copy():
            return Reuse(cached=donor.shared, copied=donor.shared)
        kv.keep(0)
        return Reuse(cached=0)
    if gap is not None:
        kv.cut(gap.start, gap.end)
        kv.keep(prefix + gap.run)
        return Reuse(cached=prefix + gap.run, cut=gap.end - gap.start)
    kv.keep(prefix)
    return Reuse(cached=prefix)
