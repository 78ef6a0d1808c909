"""Shown when no model is configured: how to get one, and a box to point at a file.

The store will add its catalogue here (a list of models to download) as one more
widget above the path box; the rest of the screen stays as it is.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Label, Markdown

from amalia_local.tui.keys import translate_bindings


class FirstRunScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("f1", "app.help", "key.help")]

    def __init__(self) -> None:
        super().__init__(id="first-run")

    def on_mount(self) -> None:
        translate_bindings(self, self.app.t)  # type: ignore[attr-defined]
        self.query_one("#model-path", Input).focus()

    def compose(self) -> ComposeResult:
        t = self.app.t  # type: ignore[attr-defined]
        with VerticalScroll(id="first-run-body"):
            yield Markdown(t("first_run.body"), id="first-run-text")
            yield Label(t("first_run.path_label"))
            with Horizontal(id="first-run-path"):
                yield Input(placeholder=t("first_run.path_placeholder"), id="model-path")
                yield Button(t("first_run.open"), variant="primary", id="open-model")
            yield Label("", id="first-run-error", markup=False)
        yield Footer()

    @on(Input.Submitted, "#model-path")
    @on(Button.Pressed, "#open-model")
    def _open(self) -> None:
        t = self.app.t  # type: ignore[attr-defined]
        raw = self.query_one("#model-path", Input).value.strip()
        error = self.query_one("#first-run-error", Label)
        if not raw:
            error.update(t("first_run.need_path"))
            return
        path = Path(raw).expanduser()
        if not path.is_file():
            error.update(t("error.model_not_found", path=path))
            return
        self.app.choose_model(str(path))  # type: ignore[attr-defined]
