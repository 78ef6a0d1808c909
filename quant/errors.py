"""Typed errors for the quantization ladder.

Everything a maintainer can get wrong (a missing source, an unknown type, a full disk, an
empty evaluation text) is one of these, raised where it is detected and turned into one
``error: ...`` line by the CLI. Nothing below the CLI prints or exits.
"""

from __future__ import annotations


class QuantError(Exception):
    """Base class; the message is a complete sentence meant for the user."""

    exit_code = 1


class UsageError(QuantError):
    """The command line asks for something that cannot work (exit code 2, like argparse)."""

    exit_code = 2


class SourceError(QuantError):
    """The source file is missing, not a GGUF, damaged, or already quantized."""


class OutputError(QuantError):
    """The output directory is not writable or lacks the space the ladder needs."""


class QuantizeFailed(QuantError):
    """llama.cpp's quantizer refused or failed; the message carries its last error line."""


class EvaluationError(QuantError):
    """The evaluation text is empty or too short, or a model could not be evaluated."""
