"""The conversation as the user sees it: questions as plain text, answers as Markdown.

Every message is one widget. Textual lays out the whole screen each time the answer
being streamed grows, and that costs time per widget on screen: with Textual's own
Markdown widget (a widget per paragraph, list item and table cell) a long conversation
meant hundreds of widgets and a layout slow enough to take CPU from the model.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.markdown import Markdown as RichMarkdown
from rich.segment import Segment
from rich.style import Style
from textual.containers import VerticalScroll
from textual.geometry import Region, Size
from textual.selection import Selection
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Static

from amalia_local.tui.markdown_blocks import MarkdownBlocks

CODE_THEME = "monokai"
# While an answer streams its box grows this many lines at a time: each growth makes
# Textual lay out the whole screen, a plain repaint does not.
GROWTH_STEP = 8


class UserMessage(Static):
    """A question, shown verbatim (it is not Markdown to the person who typed it)."""

    def __init__(self, text: str, label: str) -> None:
        super().__init__(text, markup=False, classes="message user-message")
        self.border_title = label


class AnswerMessage(Widget, can_focus=True):
    """An answer rendered as Markdown, one block at a time.

    Blocks that can no longer change are rendered once per width and kept; while the
    answer streams only its last block is rendered again. The same code draws an answer
    while it streams and when it is reopened later, so nothing jumps when it ends.
    A streaming answer keeps a few empty lines below its text (see GROWTH_STEP).

    Mouse selection works on the lines as drawn: every line carries Textual's offset
    metadata (``Strip.apply_offsets``), :meth:`get_selection` cuts the drawn text, and
    :meth:`render_line` paints the selected span in the screen's selection style.
    """

    DEFAULT_CSS = "AnswerMessage { height: auto; }"  # as tall as its text, in any app

    def __init__(self, text: str, label: str, *, note: str = "", streaming: bool = False) -> None:
        super().__init__(classes="message answer-message")
        self.border_title = label
        self.border_subtitle = note
        self.streaming = streaming
        self._blocks = MarkdownBlocks(text)
        self._width = 0
        # The settled blocks rendered at _width, gaps included, and how many they are:
        # extended as blocks settle, never rebuilt while the width stays the same.
        self._settled_lines: list[Strip] = []
        self._settled_count = 0
        self._lines: list[Strip] | None = None  # everything, at _width

    @property
    def source(self) -> str:
        """The Markdown text of the answer so far."""
        return self._blocks.text

    def append(self, text: str) -> None:
        """Add streamed text; repaints the lines that changed (usually the last one or
        two), lays out only when the box must grow."""
        width = self._width
        height = self._height(width)
        before = self._lines or []
        # Lines above the open block cannot change; its first lines can (a half-written
        # "-" made the paragraph above a heading until the line turned into a list item).
        first = max(0, len(self._settled_lines) - 1)
        self._blocks.append(text)
        self._lines = None
        if not width or self._height(width) != height:
            self.refresh(layout=True)
            return
        after = self._lines_at(width)
        while first < min(len(before), len(after)) and before[first] == after[first]:
            first += 1
        last = max(len(before), len(after))
        if first < last:
            self.refresh(Region(0, first, width, last - first))

    def finish(self) -> None:
        """The answer ended: the box shrinks to its text."""
        self.streaming = False
        self.refresh(layout=True)

    def get_content_width(self, container: Size, viewport: Size) -> int:
        return container.width

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return self._height(width)

    def _height(self, width: int) -> int:
        lines = len(self._lines_at(width))
        if self.streaming:
            return -(-lines // GROWTH_STEP) * GROWTH_STEP
        return lines

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        lines = self._lines_at(width)
        style = self.visual_style.rich_style  # cached by Textual; rich_style is not
        if y >= len(lines):
            return Strip.blank(width, style)
        line = lines[y].apply_style(style)  # cached per strip: settled lines cost nothing
        selection = self.text_selection
        if selection is not None and (span := selection.get_span(y)) is not None:
            line = _highlight(line, span, self.screen.get_component_rich_style("screen--selection"))
        # Where each character is, for the mouse to select (cached per strip too).
        return line.apply_offsets(0, y)

    def get_selection(self, selection: Selection) -> tuple[str, str] | None:
        """The selected part of the answer as it is drawn (the Markdown rendered)."""
        text = "\n".join(line.text.rstrip() for line in self._lines_at(self.size.width))
        return selection.extract(text), "\n"

    def selection_updated(self, selection: Selection | None) -> None:
        self.refresh()

    def _lines_at(self, width: int) -> list[Strip]:
        if width != self._width:
            self._width, self._settled_lines, self._settled_count = width, [], 0
            self._lines = None
        if self._lines is not None:
            return self._lines
        for text in self._blocks.settled[self._settled_count :]:
            _add_block(self._settled_lines, self._render_block(text, width), width)
        self._settled_count = len(self._blocks.settled)
        lines = list(self._settled_lines)
        _add_block(lines, self._render_block(self._blocks.open, width), width)
        self._lines = lines or [Strip.blank(width)]
        return self._lines

    def _render_block(self, text: str, width: int) -> list[Strip]:
        text = text.strip("\n")
        if not text or width <= 0:
            return []
        console = self.app.console
        options = self.app.console_options.update(width=width, height=None, highlight=False)
        markdown = RichMarkdown(text, code_theme=CODE_THEME, hyperlinks=False)
        rows = console.render_lines(markdown, options, pad=False)
        # Rich frames lists and tables with blank lines; the gap between blocks is ours.
        while rows and _is_blank(rows[0]):
            rows.pop(0)
        while rows and _is_blank(rows[-1]):
            rows.pop()
        return [Strip(list(Segment.simplify(row))).extend_cell_length(width) for row in rows]


def _highlight(line: Strip, span: tuple[int, int], style: Style) -> Strip:
    """``line`` with characters ``span`` (end -1: to the end) drawn in ``style``."""
    text = line.text
    start, end = span
    end = len(text) if end == -1 else min(end, len(text))
    if start >= end:
        return line
    # Selections count characters; strips are cut in cells (wide characters take two).
    left, right = cell_len(text[:start]), cell_len(text[:end])
    before, selected, after = line.divide([left, right, line.cell_length])
    selected = Strip(Segment.apply_style(selected, post_style=style), right - left)
    return Strip.join([before, selected, after])


def _add_block(lines: list[Strip], block: list[Strip], width: int) -> None:
    """Append a rendered block, after a blank line when something comes before it."""
    if block:
        if lines:
            lines.append(Strip.blank(width))
        lines.extend(block)


def _is_blank(row: list[Segment]) -> bool:
    """No text and no background (a code block's padding row has one and stays)."""
    return all(
        not segment.text.strip() and not (segment.style and segment.style.bgcolor)
        for segment in row
    )


class SourcesNote(Static):
    """The passages an answer was given, under it (the screen says which)."""

    def __init__(self, text: str) -> None:
        super().__init__(text, markup=False, classes="sources-note")


class MessageList(VerticalScroll):
    """Holds the messages and stays scrolled to the bottom while an answer grows."""

    can_focus = False

    def on_mount(self) -> None:
        self.anchor()

    async def clear_messages(self) -> None:
        await self.remove_children()

    async def add_user(self, text: str, label: str) -> UserMessage:
        widget = UserMessage(text, label)
        await self.mount(widget)
        self.anchor()
        return widget

    async def add_answer(
        self, text: str, label: str, *, note: str = "", streaming: bool = False
    ) -> AnswerMessage:
        widget = AnswerMessage(text, label, note=note, streaming=streaming)
        await self.mount(widget)
        self.anchor()
        return widget

    async def add_sources(self, text: str) -> SourcesNote:
        widget = SourcesNote(text)
        await self.mount(widget)
        self.anchor()
        return widget

    def last_answer(self) -> AnswerMessage | None:
        answers = self.query(AnswerMessage)
        return answers.last() if answers else None

    async def remove_sources_after_last_question(self) -> None:
        """The sources under an answer about to be given again (regenerate)."""
        users = self.query(UserMessage)
        children = list(self.children)
        start = children.index(users.last()) if users else 0
        await self.remove_children([c for c in children[start:] if isinstance(c, SourcesNote)])

    async def remove_from_last_question(self) -> None:
        """Drop the last question and what follows it (edit and resend)."""
        users = self.query(UserMessage)
        if not users:
            return
        last = users.last()
        children = list(self.children)
        await self.remove_children(children[children.index(last) :])
