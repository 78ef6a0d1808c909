"""``amalia chat`` (and plain ``amalia`` in a terminal): the chat UI."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from amalia_local.commands import options

if TYPE_CHECKING:
    from amalia_local.runtime import Runtime


def add_chat(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    chat = commands.add_parser(
        "chat",
        parents=[common],
        help="open the chat (the default when no command is given)",
        description="Chat in the terminal; conversations are saved as they happen.",
    )
    chat.add_argument(
        "model",
        nargs="?",
        metavar="MODEL",
        help="path to a .gguf file (default: the model in the settings)",
    )
    chat.add_argument(
        "--force", action="store_true", help="load even if the model does not fit in available RAM"
    )
    options.engine_flags(chat)
    options.endpoint_flags(chat)
    chat.set_defaults(handler=handle_chat)


def handle_chat(args: argparse.Namespace, runtime: Runtime) -> int:
    from amalia_local.tui.run import ChatRequest, run_chat

    if args.endpoint:
        options.endpoint_positionals(args)
    options.resolve_model(args, runtime)
    request = ChatRequest(
        model=args.model,
        n_ctx=args.ctx,
        n_threads=args.threads,
        n_gpu_layers=args.gpu_layers,
        # --lang on the command line (the CLI sets this): it beats the settings' language.
        language_forced=getattr(args, "language_forced", False),
        force=args.force,
        offline=getattr(args, "offline", False),
        kv_type=args.kv_type,
        endpoint=options.endpoint(args),
    )
    return run_chat(request, runtime)
