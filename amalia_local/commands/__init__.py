"""The ``amalia`` commands: each one's parser and the handler it is registered with.

A command module adds its parser (``add_<command>``) and sets ``handler`` on it with
``set_defaults``; the CLI parses, then calls ``args.handler(args, runtime)``. Handlers
turn flags into a service's request and call the service; nothing here does the work.
Modules import only what building their parsers needs: services, the store and the
engine are imported inside the handlers, so ``amalia --help`` and ``run --endpoint``
load none of what they do not use.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from amalia_local.runtime import Runtime

Handler = Callable[[argparse.Namespace, "Runtime"], int]
"""What a command runs once its arguments are parsed: returns the exit code."""

# Each command and the module that holds it, in the order ``amalia --help`` lists them.
COMMANDS = {
    "run": "run",
    "info": "model",
    "tokenize": "model",
    "chat": "chat",
    "serve": "serve",
    "bench": "model",
    "pull": "store",
    "list": "store",
    "rm": "store",
    "import": "store",
    "show": "store",
    "doctor": "store",
    "bundle": "bundle",
}


def add_command(
    name: str, commands: argparse._SubParsersAction, common: argparse.ArgumentParser
) -> None:
    """Add command ``name``'s parser (and handler) to ``commands``; imports its module."""
    module = importlib.import_module(f"{__name__}.{COMMANDS[name]}")
    add: Callable[[argparse._SubParsersAction, argparse.ArgumentParser], None]
    add = getattr(module, f"add_{name}")
    add(commands, common)
