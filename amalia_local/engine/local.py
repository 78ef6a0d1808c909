"""A model loaded in this process, behind the same interface as a remote endpoint."""

from __future__ import annotations

from amalia_local.engine.chat import ChatSession
from amalia_local.engine.model import Engine
from amalia_local.engine.template import Message
from amalia_local.prompts import default_system_prompt


class LocalModel:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @property
    def name(self) -> str:
        return self.engine.model_file.name

    @property
    def location(self) -> str:
        return str(self.engine.model_file.path)

    def default_system_prompt(self) -> str | None:
        return default_system_prompt(self.engine.model_file)

    def new_session(
        self, system_prompt: str | None = None, history: list[Message] | None = None
    ) -> ChatSession:
        return ChatSession(self.engine, system_prompt=system_prompt, history=history)

    def close(self) -> None:
        self.engine.close()
