"""argparse as the CLI uses it: one-line usage errors, options anywhere, the common flags."""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import sys
from typing import Any, NoReturn

from amalia_local.errors import UsageError
from amalia_local.i18n import LANGUAGES


class Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line and exit code 2, and takes a
    command's options anywhere among its positionals.

    Plain argparse binds ``run``'s two optional positionals (MODEL, PROMPT) to the first
    word it sees, so ``amalia run MODEL --max-tokens 8 "Olá"`` fails with "unrecognized
    arguments". People type options anywhere, as git, pip and ollama accept, so each
    command's own parser reads its options first and its positionals from what is left
    (argparse's intermixed parsing). The top-level parser, which only picks the command,
    keeps the plain parsing: intermixed parsing refuses sub-commands.
    """

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", Formatter)
        super().__init__(*args, **kwargs)
        self._intermixing = False
        self._takes_commands = False

    def add_subparsers(self, **kwargs):
        self._takes_commands = True
        return super().add_subparsers(**kwargs)

    def parse_known_args(self, args=None, namespace=None):
        # argparse calls parse_known_args on a command's parser, and the intermixed parse
        # calls it again itself: the flag lets that inner call through unchanged.
        if self._intermixing or self._takes_commands:
            return super().parse_known_args(args, namespace)
        self._intermixing = True
        try:
            return super().parse_known_intermixed_args(args, namespace)
        finally:
            self._intermixing = False

    def error(self, message: str) -> NoReturn:
        raise UsageError("error.usage", message=message, prog=self.prog)


class Formatter(argparse.HelpFormatter):
    """argparse's help layout, with the terminal's width asked once per process.

    argparse makes a formatter for every argument added (to check its metavar), and
    each asked ``shutil`` for the terminal's size: shutil's import (bz2, lzma) and a
    system call per argument, milliseconds of every start for help rarely printed.
    """

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None, **kwargs: Any) -> None:  # fmt: skip
        width = terminal_columns() - 2 if width is None else width
        super().__init__(prog, indent_increment, max_help_position, width, **kwargs)


@functools.cache
def terminal_columns() -> int:
    """What ``shutil.get_terminal_size().columns`` says: $COLUMNS, the terminal, or 80."""
    with contextlib.suppress(KeyError, ValueError):
        columns = int(os.environ["COLUMNS"])
        if columns > 0:
            return columns
    stdout = sys.__stdout__  # None where Python runs without a console (pythonw)
    if stdout is None:
        return 80
    try:
        return os.get_terminal_size(stdout.fileno()).columns or 80
    except (AttributeError, ValueError, OSError):
        return 80


def common_flags() -> argparse.ArgumentParser:
    # SUPPRESS lets the same flags appear before or after the sub-command.
    common = argparse.ArgumentParser(add_help=False, formatter_class=Formatter)
    common.add_argument(
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show llama.cpp's log on stderr",
    )
    common.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks for errors"
    )
    common.add_argument(
        "--lang",
        choices=LANGUAGES,
        default=argparse.SUPPRESS,
        help="interface language (default: from the locale)",
    )
    common.add_argument(
        "--offline",
        action="store_true",
        default=argparse.SUPPRESS,
        help="never use the network (also: HF_HUB_OFFLINE=1, or offline = true in the settings)",
    )
    return common
