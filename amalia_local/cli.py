"""The ``amalia`` command line: parses arguments, calls one handler, maps errors to exits.

Kept thin on purpose: each command's parser and handler live in
:mod:`amalia_local.commands`, behaviour in the services and the engine, so the chat UI
and tests reach the same code. Heavy imports (llama.cpp) happen only in the handler
that needs them, so ``amalia --help`` is instant.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence

from amalia_local import __version__
from amalia_local.commands import COMMANDS, Handler, add_command
from amalia_local.commands.parsing import Parser, common_flags
from amalia_local.errors import AmaliaError
from amalia_local.i18n import Translator, detect_language


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole command line or, given ``command``, the top level and that command only.

    argparse spends a few hundred microseconds on each parser (gettext looks for its
    catalogue files, every argument asks for the terminal's width), about 5 ms for all
    of them: a twelfth of what ``run --endpoint`` may take to its first token.
    """
    common = common_flags()
    parser = Parser(
        prog="amalia",
        parents=[common],
        description="Run AMALIA and other GGUF models locally with llama.cpp.",
    )
    parser.add_argument("--version", action="version", version=f"amalia-local {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for name in COMMANDS:
        if command is None or name == command:
            add_command(name, commands, common)
    return parser


def command_in(argv: Sequence[str]) -> str | None:
    """The command ``argv`` names when parsing it needs no other command's parser: its
    first word that is not an option (nor the value of --lang), unless help is asked
    for before it (``amalia --help run`` lists every command)."""
    after_lang = False
    for arg in argv:
        if after_lang:
            after_lang = False
        elif arg in ("-h", "--help", "--"):
            return None
        elif arg == "--lang":
            after_lang = True
        elif not arg.startswith("-"):
            return arg if arg in COMMANDS else None
    return None


def _early_language(argv: Sequence[str]) -> str:
    """The language for errors found while parsing, before --lang is known for sure."""
    for i, arg in enumerate(argv):
        if arg == "--lang" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--lang="):
            return arg.split("=", 1)[1]
    return detect_language()


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    _tolerant_output()
    translator = Translator(_early_language(argv))
    debug = "--debug" in argv
    parser = build_parser(command_in(argv))
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            if not (sys.stdin.isatty() and sys.stdout.isatty()):
                parser.print_help()  # a script or a pipe: no terminal to chat in
                return 0
            # Plain ``amalia`` in a terminal opens the chat, like ``amalia chat``.
            args = parser.parse_args([*argv, "chat"])
        from amalia_local.runtime import Runtime

        runtime = Runtime(translator=translator, verbose=getattr(args, "verbose", False))
        # --lang as typed (the translator's language): it beats the chat's setting.
        args.language_forced = any(a == "--lang" or a.startswith("--lang=") for a in argv)
        handler: Handler = args.handler  # set by the command's parser (commands/)
        return handler(args, runtime)
    except AmaliaError as exc:
        if debug:
            raise
        _print_error(translator.t(exc.key, **exc.params))
        return exc.exit_code
    except KeyboardInterrupt:
        _print_error(translator.t("error.interrupted"))
        return 130
    except BrokenPipeError:
        # The reader went away (``amalia run ... | head``): not an error of ours.
        _silence_stdout()
        return 0
    except Exception as exc:
        if debug:
            raise
        _print_error(translator.t("error.unexpected", reason=f"{type(exc).__name__}: {exc}"))
        return 1


def _tolerant_output() -> None:
    """A character the output's encoding lacks becomes "?", not a crash mid-answer.

    Windows writes pipes and files in its ANSI code page (cp1252 in Portugal), as the
    programs reading them expect; an emoji in an answer has no place there.
    """
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None and (stream.encoding or "").lower() not in ("utf-8", "utf8"):
            with contextlib.suppress(ValueError, OSError):
                reconfigure(errors="replace")


def _print_error(message: str) -> None:
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.flush()  # keep the partial answer before the error line
    print(f"amalia: {message}", file=sys.stderr)


def _silence_stdout() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


if __name__ == "__main__":
    raise SystemExit(main())
