"""Typed errors for the converter.

Every way a user's input can be wrong is one of these classes, raised deep in the
reader/tokenizer/mapping code and turned into one ``error: ...`` line by the CLI.
Nothing below the CLI prints or exits, so the same functions can be called from tests
or from the runtime package and the caller decides how to report.
"""

from __future__ import annotations


class ConvertError(Exception):
    """Base class; the message is a complete sentence meant for the user."""

    exit_code = 1


class MissingFileError(ConvertError):
    """A file the checkpoint needs (config, shard, tokenizer) is absent."""


class CorruptCheckpointError(ConvertError):
    """A file exists but cannot be parsed (bad JSON, truncated safetensors, bad header)."""


class ShapeMismatchError(ConvertError):
    """A tensor's shape disagrees with what config.json implies."""


class UnsupportedError(ConvertError):
    """Valid input we deliberately do not handle (architecture, dtype, tokenizer kind)."""


class OutputError(ConvertError):
    """The output cannot be written (directory not writable, not enough disk space)."""
