"""The one interface the chat, ``run`` and ``serve`` talk to: a model that holds chats.

A model loaded here (:class:`amalia_local.engine.local.LocalModel`) and one behind an
OpenAI-compatible endpoint (:class:`amalia_local.remote.model.RemoteModel`) are chosen
once, when the command starts; nothing after that asks which it has.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from amalia_local.engine.chat import ChatSession
    from amalia_local.engine.template import Message


class ChatModel(Protocol):
    @property
    def name(self) -> str:
        """What the conversation store and the UI call the model."""
        ...

    @property
    def location(self) -> str:
        """Where it runs: a file path or an endpoint URL (status lines, --json)."""
        ...

    def default_system_prompt(self) -> str | None:
        """AMALIA's own system prompt for AMALIA models, else none (prompts.py)."""
        ...

    def new_session(
        self, system_prompt: str | None = None, history: list[Message] | None = None
    ) -> ChatSession: ...

    def close(self) -> None: ...
