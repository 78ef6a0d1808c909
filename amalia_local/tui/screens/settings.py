"""Model and settings: which GGUF file, the system prompt, sampling, context length and
the language of the interface.

Returns a new :class:`Config` (or None when cancelled); the app saves it and reloads
the model only when the file or the context length changed.
"""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, VerticalScroll
from textual.widgets import Button, Input, Label, Select, Static, TextArea

from amalia_local.config import Config
from amalia_local.i18n import LANGUAGE_NAMES
from amalia_local.services.models import ModelChoice
from amalia_local.tui.keys import translate_bindings
from amalia_local.tui.screens.base import AmaliaModalScreen

AUTO = "auto"  # the language follows the locale


class SettingsScreen(AmaliaModalScreen[Config | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "key.cancel"),
        Binding("ctrl+s", "save", "key.save"),
    ]

    def __init__(
        self,
        config: Config,
        choices: list[ModelChoice],
        model_description: str,
        system_prompt: str,
        default_system_prompt: str | None,
    ) -> None:
        super().__init__(classes="dialog")
        self._config = config
        self._choices = choices
        self._description = model_description
        self._system_prompt = system_prompt
        self._default_prompt = default_system_prompt

    def on_mount(self) -> None:
        translate_bindings(self, self.app.t)

    def compose(self) -> ComposeResult:
        t = self.app.t
        c = self._config
        with VerticalScroll(classes="dialog-box", id="settings") as box:
            box.border_title = t("settings.title")
            yield Static(self._description, id="model-description", markup=False)
            yield Label(t("settings.model"))
            if self._choices:
                yield Select(
                    [(choice.label, choice.reference) for choice in self._choices],
                    prompt=t("settings.pick_model"),
                    id="model-choice",
                )
            yield Input(c.model or "", placeholder=t("settings.model_path"), id="model")
            yield Label(t("settings.system_prompt"))
            yield TextArea(self._system_prompt, soft_wrap=True, id="system-prompt")
            with Grid(id="settings-numbers"):
                yield Label(t("settings.temperature"))
                yield Input(_text(c.temperature), id="temperature")
                yield Label(t("settings.top_p"))
                yield Input(_text(c.top_p), id="top-p")
                yield Label(t("settings.max_tokens"))
                yield Input(
                    _text(c.max_tokens), placeholder=t("settings.no_limit"), id="max-tokens"
                )
                yield Label(t("settings.n_ctx"))
                yield Input(_text(c.n_ctx), placeholder=t("settings.automatic"), id="n-ctx")
            yield Label(t("settings.language"))
            yield Select(
                [(t("settings.language_auto"), AUTO), *((n, c) for c, n in LANGUAGE_NAMES.items())],
                value=c.language or AUTO,
                allow_blank=False,
                id="language",
            )
            yield Label("", id="settings-error", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button(t("settings.save"), variant="primary", id="save")
                yield Button(t("settings.cancel"), id="cancel")

    @on(Select.Changed, "#model-choice")
    def _picked(self, event: Select.Changed) -> None:
        if isinstance(event.value, str):
            self.query_one("#model", Input).value = event.value

    @on(Button.Pressed, "#save")
    def action_save(self) -> None:
        t = self.app.t
        try:
            config = self._read()
        except ValueError as exc:
            self.query_one("#settings-error", Label).update(t("settings.invalid", field=str(exc)))
            return
        self.dismiss(config)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)

    def _read(self) -> Config:
        t = self.app.t

        def number(widget_id: str, label: str, kind: type, low: float, high: float):
            raw = self.query_one(f"#{widget_id}", Input).value.strip()
            if not raw:
                return None
            try:
                value = kind(raw.replace(",", "."))
            except ValueError:
                raise ValueError(t(label)) from None
            if not low <= value <= high:
                raise ValueError(t(label))
            return value

        temperature = number("temperature", "settings.temperature", float, 0.0, 5.0)
        top_p = number("top-p", "settings.top_p", float, 0.0, 1.0)
        prompt = self.query_one("#system-prompt", TextArea).text.strip()
        language = self.query_one("#language", Select).value
        return replace(
            self._config,
            model=self.query_one("#model", Input).value.strip() or None,
            system_prompt=None if prompt == (self._default_prompt or "") else prompt,
            temperature=self._config.temperature if temperature is None else temperature,
            top_p=self._config.top_p if top_p is None else top_p,
            max_tokens=number("max-tokens", "settings.max_tokens", int, 1, 1_000_000),
            n_ctx=number("n-ctx", "settings.n_ctx", int, 256, 1_048_576),
            language=language if isinstance(language, str) and language != AUTO else None,
        )


def _text(value: float | int | None) -> str:
    return "" if value is None else str(value)
