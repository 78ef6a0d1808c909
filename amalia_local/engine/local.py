"""A model loaded in this process, behind the same interface as a remote endpoint."""

from __future__ import annotations

from typing import Any

from amalia_local.chat_model import Placement
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

    def placement(self) -> Placement:
        from amalia_local.engine.build_info import backend_name

        options = self.engine.options
        return Placement(
            backend=backend_name(options.n_gpu_layers),
            n_threads=options.n_threads,
            n_gpu_layers=options.n_gpu_layers,
            n_ctx=options.n_ctx,
            file=self.engine.model_file,
        )

    def settings(self) -> dict[str, Any]:
        options = self.engine.options
        return {
            "n_ctx": options.n_ctx,
            "n_threads": options.n_threads,
            "n_gpu_layers": options.n_gpu_layers,
            "kv_type": options.kv_type.value,
            "fit_check": options.fit_check or None,
        }

    def reductions(self) -> list[dict[str, Any]]:
        return [r.as_dict() for r in self.engine.options.reductions]

    def default_system_prompt(self) -> str | None:
        return default_system_prompt(self.engine.model_file)

    def new_session(
        self, system_prompt: str | None = None, history: list[Message] | None = None
    ) -> ChatSession:
        return ChatSession(self.engine, system_prompt=system_prompt, history=history)

    def close(self) -> None:
        self.engine.close()
