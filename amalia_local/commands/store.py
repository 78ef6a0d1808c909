"""The model store's commands: ``pull``, ``list``, ``rm``, ``import``, ``show``, ``doctor``."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from amalia_local.commands import options

if TYPE_CHECKING:
    from amalia_local.runtime import Runtime


def add_pull(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    pull = commands.add_parser(
        "pull",
        parents=[common],
        help="download a model by name",
        description="Download a model from the Hugging Face Hub, verify its sha256, install it.",
    )
    pull.add_argument("name", metavar="NAME", help="amalia, amalia:q8_0, hf:OWNER/REPO:QUANT ...")
    pull.set_defaults(handler=handle_pull)


def handle_pull(args: argparse.Namespace, runtime: Runtime) -> int:
    store = options.open_store(args, runtime)
    from amalia_local.services.pull import pull

    return pull(args.name, store, runtime, sys.stdout)


def add_list(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    listing = commands.add_parser(
        "list",
        parents=[common],
        help="installed models",
        description="Installed models; --available lists the catalogue and what fits here.",
    )
    listing.add_argument("--available", action="store_true", help="show the catalogue")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=handle_list)


def handle_list(args: argparse.Namespace, runtime: Runtime) -> int:
    store = options.open_store(args, runtime)
    from amalia_local.services import list_models

    if args.available:
        from amalia_local import hardware

        available = hardware.memory().available_bytes
        return list_models.list_available(store, runtime, sys.stdout, args.json, available)
    return list_models.list_installed(store, runtime, sys.stdout, args.json)


def add_rm(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    rm = commands.add_parser(
        "rm", parents=[common], help="remove a model", description="Remove an installed model."
    )
    rm.add_argument("name", metavar="NAME")
    rm.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    rm.set_defaults(handler=handle_rm)


def handle_rm(args: argparse.Namespace, runtime: Runtime) -> int:
    store = options.open_store(args, runtime)
    from amalia_local.services.remove import remove

    return remove(args.name, store, runtime, sys.stdout, sys.stdin, args.yes)


def add_import(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    imp = commands.add_parser(
        "import",
        parents=[common],
        help="add a local .gguf file or a bundle's models to the store",
        description="Validate a GGUF file and add it (hard link or copy) to the store; "
        "for a bundle folder (amalia bundle create), verify it and add all its models.",
    )
    imp.add_argument("path", metavar="PATH", help="a .gguf file or a bundle folder")
    imp.add_argument("--name", metavar="NAME", help="store name (default: from the file name)")
    imp.set_defaults(handler=handle_import)


def handle_import(args: argparse.Namespace, runtime: Runtime) -> int:
    store = options.open_store(args, runtime)
    from amalia_local.services.import_model import import_model

    return import_model(args.path, args.name, store, runtime, sys.stdout)


def add_show(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    show = commands.add_parser(
        "show",
        parents=[common],
        help="describe an installed model",
        description="What 'amalia info' prints, plus the store's record.",
    )
    show.add_argument("name", metavar="NAME")
    options.ctx_flag(show)
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(handler=handle_show)


def handle_show(args: argparse.Namespace, runtime: Runtime) -> int:
    store = options.open_store(args, runtime)
    from amalia_local.services.show import show

    return show(args.name, args.ctx, args.json, store, runtime, sys.stdout)


def add_doctor(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    doctor = commands.add_parser(
        "doctor",
        parents=[common],
        help="check this machine and recommend a model",
        description="System, llama.cpp build, store and which catalogue models fit.",
    )
    doctor.add_argument("--json", action="store_true", help="print JSON")
    doctor.set_defaults(handler=handle_doctor)


def handle_doctor(args: argparse.Namespace, runtime: Runtime) -> int:
    store = options.open_store(args, runtime)
    from amalia_local.services.doctor import doctor

    return doctor(store, runtime, sys.stdout, args.json)
