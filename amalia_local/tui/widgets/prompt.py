"""The multi-line question box: Enter sends, Ctrl+J (or Shift+Enter) starts a new line.

Most terminals send the same byte for Enter and Shift+Enter, so Ctrl+J is the key that
works everywhere; Shift+Enter also works where the terminal reports it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from textual import events
from textual.message import Message
from textual.widgets import TextArea

NEWLINE_KEYS = ("ctrl+j", "shift+enter")


class PromptInput(TextArea):
    @dataclass
    class Submitted(Message):
        text: str

    def __init__(self, placeholder: str, **kwargs: Any) -> None:
        super().__init__(
            placeholder=placeholder,
            soft_wrap=True,
            show_line_numbers=False,
            tab_behavior="focus",
            compact=True,
            **kwargs,
        )
        # Set by the screen: takes a paste that names files (attaching them) and says
        # so, or leaves it to be pasted as text.
        self.paste_files: Callable[[str], bool] | None = None

    async def _on_paste(self, event: events.Paste) -> None:
        # Textual then runs TextArea's own handler (the text pasted) unless prevented.
        if self.paste_files is not None and self.paste_files(event.text):
            event.stop()
            event.prevent_default()

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            self.post_message(self.Submitted(self.text))
            return
        if event.key in NEWLINE_KEYS:
            event.stop()
            event.prevent_default()
            self.insert("\n")
            return
        await super()._on_key(event)
