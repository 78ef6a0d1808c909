"""Which file to attach: a path typed with completion (→ accepts the suggestion)."""

from __future__ import annotations

import os
from pathlib import Path

from textual.suggester import Suggester
from textual.widgets import Input

from amalia_local.documents.read import SUFFIXES
from amalia_local.tui.screens.dialogs import TextPromptScreen


class PathSuggester(Suggester):
    """Completes the last part of a path from what is in its folder: folders (with a
    trailing ``/``) and the documents we read, case-insensitively."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)

    async def get_suggestion(self, value: str) -> str | None:
        if not value:
            return None
        folder_text, _, partial = value.rpartition(os.sep)
        folder = Path(folder_text or (os.sep if value.startswith(os.sep) else ".")).expanduser()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name.lower())
        except OSError:
            return None
        wanted = partial.lower()
        for entry in entries:
            if entry.name.startswith(".") and not partial.startswith("."):
                continue
            if not entry.name.lower().startswith(wanted) or entry.name == partial:
                continue
            is_dir = entry.is_dir()
            if is_dir or Path(entry.name).suffix.lower() in SUFFIXES:
                prefix = value[: len(value) - len(partial)]
                return prefix + entry.name + (os.sep if is_dir else "")
        return None


class AttachScreen(TextPromptScreen):
    """The attach dialog: the text prompt, its box completing paths."""

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#answer", Input).suggester = PathSuggester()
