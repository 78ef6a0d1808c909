"""``--pages 3-10`` / ``1,4,7-`` : which pages of a PDF to read (numbered from 1)."""

from __future__ import annotations

import re

from amalia_local.documents.errors import BadPageRange

_PART = re.compile(r"^\s*(\d+)\s*(?:(-)\s*(\d*)\s*)?$")


def parse_pages(text: str) -> list[tuple[int, int | None]]:
    """Inclusive ranges; ``None`` as an end means "to the last page". Checked at once,
    before any file is opened, so a typo costs nothing."""
    ranges: list[tuple[int, int | None]] = []
    for part in text.split(","):
        match = _PART.match(part)
        if match is None:
            raise BadPageRange(text)
        first = int(match.group(1))
        last: int | None = first
        if match.group(2):
            last = int(match.group(3)) if match.group(3) else None
        if first < 1 or (last is not None and last < first):
            raise BadPageRange(text)
        ranges.append((first, last))
    return ranges


def select_pages(text: str, count: int) -> list[int]:
    """0-based indexes of the chosen pages of a ``count``-page document, in order, once."""
    chosen: list[int] = []
    for first, last in parse_pages(text):
        if first > count:
            raise BadPageRange(text, count)
        end = count if last is None else min(last, count)
        chosen.extend(i - 1 for i in range(first, end + 1) if i - 1 not in chosen)
    return chosen
