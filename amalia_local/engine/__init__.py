"""The llama.cpp engine shared by the CLI, the chat UI, the server and the benchmarks.

The only package that imports llama_cpp, and lazily: importing a name from here loads just
the module that defines it, so ``from amalia_local.engine import Message`` (the remote
client, the converter) does not load libllama (0.3 s, and nothing a client needs).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from amalia_local.lazy_names import lazy_getattr

if TYPE_CHECKING:
    from amalia_local.engine.chat import ChatSession, Reply
    from amalia_local.engine.model import Engine, current_machine
    from amalia_local.engine.options import LoadOptions, SamplingOptions
    from amalia_local.engine.stats import ReplyStats, StopReason
    from amalia_local.engine.template import Message

_HOMES = {
    "ChatSession": "chat",
    "Reply": "chat",
    "Engine": "model",
    "current_machine": "model",
    "LoadOptions": "options",
    "SamplingOptions": "options",
    "ReplyStats": "stats",
    "StopReason": "stats",
    "Message": "template",
}

__all__ = [  # noqa: RUF022 - as _HOMES lists them
    "ChatSession",
    "Reply",
    "Engine",
    "current_machine",
    "LoadOptions",
    "SamplingOptions",
    "ReplyStats",
    "StopReason",
    "Message",
]


__getattr__ = lazy_getattr(__name__, _HOMES)
