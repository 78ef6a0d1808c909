"""Markdown split into top-level blocks, of which only the last can still change.

Text streamed by the model only ever grows at the end, and in CommonMark appending text
can change the last top-level block (a paragraph that turns into a heading, a list that
gets another item, a code fence that closes) but never the ones before it. So an answer
is kept as *settled* blocks, each rendered once, plus one *open* block re-rendered as
text arrives: the cost of an update depends on the size of the last block, not on the
length of the answer. Only the unsettled tail is parsed again, and only its complete
lines decide where blocks start: a half-written line ("2" before ". item") could end a
list that its next characters would have continued.
"""

from __future__ import annotations

from itertools import pairwise

from markdown_it import MarkdownIt

# Same dialect as the renderer (rich.markdown): CommonMark plus tables and strikethrough.
_PARSER = MarkdownIt("commonmark").enable("strikethrough").enable("table")


def block_starts(text: str) -> list[int]:
    """Character offsets where the top-level blocks of ``text`` start, in order."""
    lines = text.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    starts: list[int] = []
    for token in _PARSER.parse(text):
        if token.level == 0 and token.nesting >= 0 and token.map is not None:
            starts.append(offsets[token.map[0]])
    return starts


class MarkdownBlocks:
    """A growing Markdown text as settled blocks and one open block."""

    def __init__(self, text: str = "") -> None:
        self.settled: list[str] = []
        self.open = ""
        self.append(text)

    @property
    def text(self) -> str:
        return "".join(self.settled) + self.open

    def append(self, more: str) -> int:
        """Add streamed text; returns how many blocks became settled with it."""
        if not more:
            return 0
        tail = self.open + more
        starts = block_starts(tail[: tail.rfind("\n") + 1])
        settled = [tail[a:b] for a, b in pairwise(starts)]
        if settled and starts[0] > 0:  # blank lines before the first block
            settled[0] = tail[: starts[1]]
        self.settled.extend(settled)
        self.open = tail[starts[-1] :] if len(starts) > 1 else tail
        return len(settled)
