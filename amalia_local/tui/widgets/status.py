"""One line under the chat: model, backend, speed of the last answer, context use."""

from __future__ import annotations

from textual.widgets import Static


class StatusBar(Static):
    """Plain text set by the screen; it formats nothing itself."""

    def show(self, parts: list[str]) -> None:
        self.update(" · ".join(p for p in parts if p))
