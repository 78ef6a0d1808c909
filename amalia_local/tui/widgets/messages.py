"""The conversation as the user sees it: questions as plain text, answers as Markdown."""

from __future__ import annotations

from textual.containers import VerticalScroll
from textual.widgets import Markdown, Static


class UserMessage(Static):
    """A question, shown verbatim (it is not Markdown to the person who typed it)."""

    def __init__(self, text: str, label: str) -> None:
        super().__init__(text, markup=False, classes="message user-message")
        self.border_title = label


class AnswerMessage(Markdown):
    """An answer; while it streams only this widget changes, never the whole list."""

    def __init__(self, text: str, label: str, *, note: str = "") -> None:
        super().__init__(text, classes="message answer-message")
        self.border_title = label
        self.border_subtitle = note


class MessageList(VerticalScroll):
    """Holds the messages and stays scrolled to the bottom while an answer grows."""

    can_focus = False

    def on_mount(self) -> None:
        self.anchor()

    async def clear_messages(self) -> None:
        await self.remove_children()

    async def add_user(self, text: str, label: str) -> UserMessage:
        widget = UserMessage(text, label)
        await self.mount(widget)
        self.anchor()
        return widget

    async def add_answer(self, text: str, label: str, *, note: str = "") -> AnswerMessage:
        widget = AnswerMessage(text, label, note=note)
        await self.mount(widget)
        self.anchor()
        return widget

    def last_answer(self) -> AnswerMessage | None:
        answers = self.query(AnswerMessage)
        return answers.last() if answers else None

    async def remove_from_last_question(self) -> None:
        """Drop the last question and what follows it (edit and resend)."""
        users = self.query(UserMessage)
        if not users:
            return
        last = users.last()
        children = list(self.children)
        await self.remove_children(children[children.index(last) :])
