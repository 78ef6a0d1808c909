"""Saved conversations, newest first, with a search box that filters as you type.

The list is one OptionList, not a widget per conversation: the screen is laid out again
each time a streamed answer grows, and with a widget per row that cost grew with every
conversation ever saved.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, OptionList
from textual.widgets.option_list import Option

from amalia_local.conversations import ConversationSummary


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

    def __init__(self, search_placeholder: str, title: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._placeholder = search_placeholder
        self.border_title = title

    def compose(self) -> ComposeResult:
        yield Input(placeholder=self._placeholder, id="search")
        yield OptionList(id="conversations")

    @property
    def query_text(self) -> str:
        return self.query_one("#search", Input).value

    @property
    def titles(self) -> list[str]:
        """The titles listed, top to bottom."""
        view = self.query_one("#conversations", OptionList)
        return [str(view.get_option_at_index(i).prompt) for i in range(view.option_count)]

    def show(self, summaries: list[ConversationSummary], current: int | None) -> None:
        view = self.query_one("#conversations", OptionList)
        view.set_options(Option(s.title, id=str(s.id)) for s in summaries)
        ids = [s.id for s in summaries]
        view.highlighted = ids.index(current) if current in ids else None

    def highlighted_id(self) -> int | None:
        view = self.query_one("#conversations", OptionList)
        option = view.highlighted_option
        return int(option.id) if option is not None and option.id is not None else None

    @on(Input.Changed, "#search")
    def _search(self, event: Input.Changed) -> None:
        event.stop()
        self.post_message(self.SearchChanged(event.value))

    @on(OptionList.OptionSelected, "#conversations")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id is not None:
            self.post_message(self.Opened(int(event.option.id)))
