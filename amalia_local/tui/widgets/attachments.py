"""Files attached to the next question: one small labelled block each, removable.

Each block says what the model will be given (name, pages, tokens) before anything is
sent; clicking it, or Delete/Backspace while it has focus, takes it off. The bar only
shows and removes: reading the files is the screen's worker's job.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from textual import events
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Static

from amalia_local.documents import Document
from amalia_local.formatting import NumberFormat


def attachment_label(
    name: str,
    pages: int | None,
    tokens: int | None,
    t: Callable[..., str],
    numbers: NumberFormat,
) -> str:
    """``regulamento.pdf · 12 p. · 5,234 tokens`` (the parts that are known)."""
    parts = [name]
    if pages:
        parts.append(t("attach.pages", n=numbers.count(pages)))
    if tokens is not None:
        parts.append(f"{numbers.count(tokens)} tokens")
    return " · ".join(parts)


@dataclass(frozen=True)
class Attached:
    document: Document
    tokens: int | None  # None: the model is remote, or not loaded yet


class AttachmentChip(Static, can_focus=True):
    """One attached file; it removes itself from the bar when clicked or deleted."""

    def __init__(self, attached: Attached, label: str, hint: str) -> None:
        super().__init__(f"📎 {label} ✕", markup=False, classes="attachment")
        self.attached = attached
        self.tooltip = hint

    async def on_click(self, event: events.Click) -> None:
        event.stop()
        await self._remove()

    async def on_key(self, event: events.Key) -> None:
        if event.key in ("delete", "backspace"):
            event.stop()
            await self._remove()

    async def _remove(self) -> None:
        bar = self.parent
        await self.remove()
        if isinstance(bar, AttachmentBar):
            bar.post_message(AttachmentBar.Changed(bar))


class AttachmentBar(Horizontal):
    """The row of attached files above the question box; hidden while empty."""

    @dataclass
    class Changed(Message):
        bar: AttachmentBar

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.display = False

    @property
    def attached(self) -> list[Attached]:
        return [chip.attached for chip in self.query(AttachmentChip)]

    async def add(self, attached: Attached, label: str, hint: str) -> None:
        await self.mount(AttachmentChip(attached, label, hint))
        self.display = True

    async def clear(self) -> None:
        await self.remove_children()
        self.display = False

    async def take(self, documents: Collection[object]) -> None:
        """Remove the blocks of the documents sent, keeping any attached since."""
        sent = [c for c in self.query(AttachmentChip) if c.attached.document in documents]
        if sent:
            await self.remove_children(sent)
        self.display = bool(self.attached)

    def on_attachment_bar_changed(self, event: Changed) -> None:
        self.display = bool(self.attached)
