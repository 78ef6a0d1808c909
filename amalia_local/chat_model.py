"""The one interface the chat, ``run`` and ``serve`` talk to: a model that holds chats.

A model loaded here (:class:`amalia_local.engine.local.LocalModel`) and one behind an
OpenAI-compatible endpoint (:class:`amalia_local.remote.model.RemoteModel`) are chosen
once, when the command starts; nothing after that asks which it has. What differs
between them (how it runs, what ``--json`` reports) is asked of the model itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from amalia_local.engine.chat import ChatSession
    from amalia_local.engine.template import Message
    from amalia_local.model_file import ModelFile


@dataclass(frozen=True)
class Placement:
    """Where and how a model runs, as far as this process knows it.

    The status line and the settings show each fact that is there: a model loaded here
    knows its backend, threads and context; a server tells none of that, only its URL.
    """

    endpoint: str | None = None  # the server's URL
    backend: str | None = None  # "CPU", "Metal", "CUDA"...: llama.cpp in this process
    n_threads: int | None = None
    n_gpu_layers: int = 0
    n_ctx: int | None = None  # tokens of context in use
    file: ModelFile | None = None  # the GGUF's own facts, when the file is on this machine


class ChatModel(Protocol):
    @property
    def name(self) -> str:
        """What the conversation store and the UI call the model."""
        ...

    @property
    def location(self) -> str:
        """Where it runs: a file path or an endpoint URL (status lines, --json)."""
        ...

    def placement(self) -> Placement:
        """How it runs, for the status line and the settings screen."""
        ...

    def settings(self) -> dict[str, Any]:
        """What it runs with, for ``--json``: a server's URL, or the settings used here."""
        ...

    def reductions(self) -> list[dict[str, Any]]:
        """Settings asked for but lowered to fit this machine (``--json``); none remotely."""
        ...

    def default_system_prompt(self) -> str | None:
        """AMALIA's own system prompt for AMALIA models, else none (prompts.py)."""
        ...

    def new_session(
        self, system_prompt: str | None = None, history: list[Message] | None = None
    ) -> ChatSession: ...

    def close(self) -> None: ...
