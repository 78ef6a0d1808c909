"""Which of the ranked passages are given: the best first, as many as the budget holds.

Kept apart from the model so the retrieval test set measures exactly the rule ``run``
and the chat apply, with the token counts estimated instead of counted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

T = TypeVar("T")


def within_budget(
    ranked: Iterable[T], budget: int, tokens: Callable[[T], int]
) -> list[tuple[T, int]]:
    """``ranked`` best first, each with its size, kept while the total stays within
    ``budget``; one too large is skipped, a smaller one further down may still fit."""
    chosen: list[tuple[T, int]] = []
    used = 0
    for item in ranked:
        size = tokens(item)
        if used + size > budget:
            continue
        chosen.append((item, size))
        used += size
    return chosen
