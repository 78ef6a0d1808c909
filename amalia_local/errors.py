"""Typed errors that the CLI turns into one translated line and an exit code.

Every failure a user can cause (a bad file, a model that does not fit, a cancelled
download) is one of these, so nothing below the CLI prints or exits by itself and
the same errors can be shown by the chat UI.
"""

from __future__ import annotations

from typing import Any


class AmaliaError(Exception):
    """Base class: carries a catalogue key and its parameters, not a finished sentence."""

    exit_code = 1

    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key, params)
        self.key = key
        self.params = params

    def __str__(self) -> str:
        from amalia_local.i18n import Translator

        return Translator("en").t(self.key, **self.params)


class UsageError(AmaliaError):
    """The command line itself is wrong (exit code 2, like argparse)."""

    exit_code = 2


class ModelFileError(AmaliaError):
    """The model file is missing, unreadable, not GGUF, truncated or unsupported."""


class ModelLoadError(AmaliaError):
    """llama.cpp refused a file that passed our own checks."""


class ContextOverflowError(AmaliaError):
    """The newest message alone does not fit the context window."""


class QueueFullError(AmaliaError):
    """Every parallel sequence is busy and the waiting queue is full (HTTP 503)."""


class ServeError(AmaliaError):
    """The server cannot start: the address is taken or invalid."""


class RemoteError(AmaliaError):
    """An OpenAI-compatible endpoint could not be reached or refused the request."""


class ConfigError(AmaliaError):
    """``config.toml`` cannot be read, or a value in it is not one the setting takes."""
