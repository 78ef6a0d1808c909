"""A model behind an OpenAI-compatible endpoint, used exactly like a local one.

The conversation bookkeeping (history, regenerate, a stopped answer kept) is the
engine's ``ChatSession``; only how an answer is produced differs: the whole visible
conversation goes to the server, which renders its own template and trims nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from amalia_local.engine.chat import ChatSession, Reply
from amalia_local.engine.options import SamplingOptions
from amalia_local.engine.stats import ReplyStats
from amalia_local.engine.template import Message
from amalia_local.errors import RemoteError
from amalia_local.prompts import AMALIA_SYSTEM_PROMPT
from amalia_local.remote.client import CancelEvent, Endpoint

if TYPE_CHECKING:
    from amalia_local.chat_model import Placement


class RemoteModel:
    """``--endpoint URL [--model NAME]``: one model of one server, checked at open."""

    def __init__(self, endpoint: Endpoint, name: str) -> None:
        self.endpoint = endpoint
        self.name = name

    @classmethod
    def open(cls, url: str, api_key: str | None = None, model: str | None = None) -> RemoteModel:
        """Ask the server which models it has; pick ``model``, or its only/first one."""
        endpoint = Endpoint(url, api_key)
        try:
            available = endpoint.models()
            if not available:
                raise RemoteError("error.endpoint_no_models", url=url)
            if model is not None and model not in available:
                raise RemoteError(
                    "error.endpoint_model_missing",
                    model=model,
                    url=url,
                    available=", ".join(available),
                )
        except BaseException:
            endpoint.close()
            raise
        return cls(endpoint, model or available[0])

    @property
    def location(self) -> str:
        return self.endpoint.url

    def placement(self) -> Placement:
        """A server does not say how it runs the model: only where it is."""
        from amalia_local.chat_model import Placement  # not before the first token

        return Placement(endpoint=self.endpoint.url)

    def settings(self) -> dict[str, Any]:
        return {"endpoint": self.endpoint.url}

    def reductions(self) -> list[dict[str, Any]]:
        return []

    def default_system_prompt(self) -> str | None:
        """AMALIA served elsewhere (vLLM on a GPU server) still needs its system prompt."""
        return AMALIA_SYSTEM_PROMPT if "amalia" in self.name.lower() else None

    def new_session(
        self, system_prompt: str | None = None, history: list[Message] | None = None
    ) -> RemoteSession:
        return RemoteSession(self, system_prompt, history)

    def close(self) -> None:
        self.endpoint.close()


class RemoteSession(ChatSession):
    def __init__(
        self,
        model: RemoteModel,
        system_prompt: str | None = None,
        history: list[Message] | None = None,
    ) -> None:
        # No engine here: the server generates (_reply below). ChatSession types engine as
        # present and checks for None where a remote session reaches it.
        super().__init__(None, system_prompt, history)  # type: ignore[arg-type]
        self.model = model

    def _reply(self, sampling: SamplingOptions) -> Reply:
        stats = ReplyStats()
        cancel = CancelEvent()
        messages = [m.as_dict() for m in self.visible_messages()]
        chunks = self.model.endpoint.stream_chat(self.model.name, messages, sampling, stats, cancel)
        return Reply(self, chunks, stats, cancel)
