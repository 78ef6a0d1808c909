"""Small modal questions: confirm an action, or type one line of text."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label

from amalia_local.tui.keys import translate_bindings
from amalia_local.tui.screens.base import AmaliaModalScreen


class ConfirmScreen(AmaliaModalScreen[bool]):
    """Yes or no; Escape means no. Used before anything that cannot be undone."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "key.cancel")]

    def __init__(self, question: str, confirm: str, cancel: str) -> None:
        super().__init__(classes="dialog")
        self._question, self._confirm, self._cancel = question, confirm, cancel

    def on_mount(self) -> None:
        translate_bindings(self, self.app.t)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Label(self._question, markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button(self._confirm, variant="error", id="confirm")
                yield Button(self._cancel, id="cancel")

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm")

    def action_cancel(self) -> None:
        self.dismiss(False)


class TextPromptScreen(AmaliaModalScreen[str | None]):
    """One line of text (a new title, a file name); Enter accepts, Escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "key.cancel")]

    def __init__(self, question: str, value: str, ok: str, cancel: str) -> None:
        super().__init__(classes="dialog")
        self._question, self._value, self._ok, self._cancel = question, value, ok, cancel

    def on_mount(self) -> None:
        translate_bindings(self, self.app.t)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Label(self._question, markup=False)
            yield Input(self._value, id="answer")
            with Horizontal(classes="dialog-buttons"):
                yield Button(self._ok, variant="primary", id="ok")
                yield Button(self._cancel, id="cancel")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        self._accept()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "ok":
            self._accept()
        else:
            self.dismiss(None)

    def _accept(self) -> None:
        value = self.query_one("#answer", Input).value.strip()
        self.dismiss(value or None)

    def action_cancel(self) -> None:
        self.dismiss(None)
