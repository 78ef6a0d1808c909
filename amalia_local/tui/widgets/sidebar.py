"""Saved conversations, newest first, with a search box that filters as you type."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, Label, ListItem, ListView

from amalia_local.conversations import ConversationSummary


class ConversationItem(ListItem):
    def __init__(self, summary: ConversationSummary) -> None:
        super().__init__(Label(summary.title, markup=False))
        self.conversation_id = summary.id


class Sidebar(Vertical):
    """Shows what the store returns; selecting an item asks the screen to open it."""

    # Delete acts on the highlighted conversation while the list has focus.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("delete", "screen.delete", "key.delete", show=False)
    ]

    @dataclass
    class Opened(Message):
        conversation_id: int

    @dataclass
    class SearchChanged(Message):
        query: str

    def __init__(self, search_placeholder: str, title: str, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._placeholder = search_placeholder
        self.border_title = title

    def compose(self) -> ComposeResult:
        yield Input(placeholder=self._placeholder, id="search")
        yield ListView(id="conversations")

    @property
    def query_text(self) -> str:
        return self.query_one("#search", Input).value

    async def show(self, summaries: list[ConversationSummary], current: int | None) -> None:
        view = self.query_one("#conversations", ListView)
        await view.clear()
        await view.extend(ConversationItem(s) for s in summaries)
        ids = [s.id for s in summaries]
        view.index = ids.index(current) if current in ids else None

    def highlighted_id(self) -> int | None:
        item = self.query_one("#conversations", ListView).highlighted_child
        return item.conversation_id if isinstance(item, ConversationItem) else None

    @on(Input.Changed, "#search")
    def _search(self, event: Input.Changed) -> None:
        event.stop()
        self.post_message(self.SearchChanged(event.value))

    @on(ListView.Selected, "#conversations")
    def _selected(self, event: ListView.Selected) -> None:
        event.stop()
        if isinstance(event.item, ConversationItem):
            self.post_message(self.Opened(event.item.conversation_id))
