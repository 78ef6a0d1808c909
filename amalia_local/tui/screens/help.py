"""Every key the chat understands, in the UI language, from the bindings themselves."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

from amalia_local.tui.keys import translate_bindings
from amalia_local.tui.screens.base import AmaliaModalScreen


class HelpScreen(AmaliaModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,f1,q", "close", "key.close")]

    def __init__(self, title: str, rows: list[tuple[str, str]]) -> None:
        super().__init__(classes="dialog")
        self._title = title
        self._rows = rows

    def on_mount(self) -> None:
        translate_bindings(self, self.app.t)

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=False, padding=(0, 2))
        table.add_column(style="bold")
        table.add_column()
        for key, text in self._rows:
            table.add_row(key, text)
        with VerticalScroll(classes="dialog-box", id="help") as box:
            box.border_title = self._title
            yield Static(table)

    def action_close(self) -> None:
        self.dismiss(None)
