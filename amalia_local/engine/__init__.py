"""The llama.cpp engine shared by the CLI, the chat UI and the benchmarks."""

from amalia_local.engine.chat import ChatSession, Reply
from amalia_local.engine.model import Engine, current_machine
from amalia_local.engine.options import LoadOptions, SamplingOptions
from amalia_local.engine.stats import ReplyStats, StopReason
from amalia_local.engine.template import Message

__all__ = [
    "ChatSession",
    "Engine",
    "LoadOptions",
    "Message",
    "Reply",
    "ReplyStats",
    "SamplingOptions",
    "StopReason",
    "current_machine",
]
