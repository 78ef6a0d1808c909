"""Shown when no model is configured: pick an installed model, download one from the
catalogue, or point at a GGUF file. Never a traceback.

The screen only paints what ``app.models`` (the model store behind
:class:`~amalia_local.services.models.ModelSource`) returns and forwards choices.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Footer, Input, Label, Markdown, OptionList, ProgressBar
from textual.widgets.option_list import Option

from amalia_local.errors import AmaliaError
from amalia_local.hardware import memory
from amalia_local.tui.keys import translate_bindings
from amalia_local.tui.screens.base import AmaliaScreen

PROGRESS_INTERVAL_S = 0.1


class FirstRunScreen(AmaliaScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel_pull", "key.cancel_download", show=False),
        Binding("f1", "app.help", "key.help"),
    ]

    def __init__(self) -> None:
        super().__init__(id="first-run")
        self._cancel = threading.Event()
        self._pulling = False

    def on_mount(self) -> None:
        translate_bindings(self, self.app.t)
        self.query_one("#model-path", Input).focus()

    def compose(self) -> ComposeResult:
        app = self.app
        t = app.t
        models = app.models
        numbers = app.numbers
        with VerticalScroll(id="first-run-body"):
            yield Markdown(t("first_run.body"), id="first-run-text")
            installed = models.choices(app.config, numbers=numbers)
            if installed:
                yield Label(t("first_run.installed"), classes="first-run-heading")
                yield OptionList(
                    *(Option(c.label, id=c.reference) for c in installed), id="installed"
                )
            yield Label(t("first_run.download"), classes="first-run-heading")
            offers = models.offers(memory().available_bytes, numbers)
            yield OptionList(
                *(
                    Option(
                        f"{o.label} · {t('first_run.ram', ram=numbers.bytes(o.ram_needed))}",
                        id=o.name,
                    )
                    for o in offers
                ),
                id="offers",
            )
            yield ProgressBar(id="pull-progress", show_eta=False)
            yield Label("", id="pull-status", markup=False)
            yield Label(t("first_run.path_label"), classes="first-run-heading")
            with Horizontal(id="first-run-path"):
                yield Input(placeholder=t("first_run.path_placeholder"), id="model-path")
                yield Button(t("first_run.open"), variant="primary", id="open-model")
            yield Label("", id="first-run-error", markup=False)
        yield Footer()

    # --- a file path --------------------------------------------------------------------
    @on(Input.Submitted, "#model-path")
    @on(Button.Pressed, "#open-model")
    def _open(self) -> None:
        t = self.app.t
        raw = self.query_one("#model-path", Input).value.strip()
        error = self.query_one("#first-run-error", Label)
        if not raw:
            error.update(t("first_run.need_path"))
            return
        path = Path(raw).expanduser()
        if not path.is_file():
            error.update(t("error.model_not_found", path=path))
            return
        self.app.choose_model(str(path))

    # --- an installed model -------------------------------------------------------------
    @on(OptionList.OptionSelected, "#installed")
    def _installed(self, event: OptionList.OptionSelected) -> None:
        if event.option.id:
            self.app.choose_model(event.option.id)

    # --- a download from the catalogue --------------------------------------------------
    @on(OptionList.OptionSelected, "#offers")
    def _offer(self, event: OptionList.OptionSelected) -> None:
        t, numbers = self.app.t, self.app.numbers
        if self._pulling or not event.option.id:
            return
        offer = next(
            o
            for o in self.app.models.offers(memory().available_bytes, numbers)
            if o.name == event.option.id
        )
        if not offer.fits:
            self.notify(
                t("first_run.too_big", name=offer.name, ram=numbers.bytes(offer.ram_needed)),
                severity="warning",
                timeout=10,
            )
        self._pulling = True
        self._cancel.clear()
        self.query_one("#pull-progress").add_class("-visible")
        self.query_one("#pull-status", Label).update(t("first_run.pulling", name=offer.name))
        self._pull(offer.name)

    def action_cancel_pull(self) -> None:
        self._cancel.set()

    @work(thread=True, exclusive=True, group="pull", exit_on_error=False)
    def _pull(self, name: str) -> None:
        from amalia_local.store import PullCancelled

        bar = self.query_one("#pull-progress", ProgressBar)
        last = 0.0

        def progress(done: int, total: int | None) -> None:
            nonlocal last
            if self._cancel.is_set():
                raise PullCancelled(name)
            now = time.monotonic()
            if now - last >= PROGRESS_INTERVAL_S:
                last = now
                self.app.call_from_thread(bar.update, total=total, progress=done)

        try:
            installed = self.app.models.pull(name, progress)
        except AmaliaError as exc:
            self.app.call_from_thread(self._pull_failed, exc)
            return
        self.app.call_from_thread(self.app.choose_model, installed)

    def _pull_failed(self, error: AmaliaError) -> None:
        self._pulling = False
        self.query_one("#pull-progress").remove_class("-visible")
        message = self.app.describe_error(error)
        self.query_one("#pull-status", Label).update(message)
