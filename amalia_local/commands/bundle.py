"""``amalia bundle create`` and ``verify``: installs for machines without a network."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from amalia_local.commands import options
from amalia_local.commands.parsing import Parser
from amalia_local.errors import UsageError

if TYPE_CHECKING:
    from amalia_local.runtime import Runtime


def add_bundle(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """bundle create / verify: air-gapped installs (amalia_local.bundle)."""
    bundle = commands.add_parser(
        "bundle",
        parents=[common],
        help="make or check a bundle for machines without a network",
        description="A folder with models, wheels and install scripts for offline machines.",
    )
    actions = bundle.add_subparsers(
        dest="bundle_command", metavar="ACTION", parser_class=Parser, required=True
    )
    create = actions.add_parser(
        "create",
        parents=[common],
        help="write a new bundle",
        description="Write models, every wheel for the target, install scripts and a "
        "manifest into OUT_DIR (which must not exist or be empty).",
    )
    create.set_defaults(handler=handle_create)
    create.add_argument("out_dir", metavar="OUT_DIR")
    create.add_argument(
        "--model",
        action="append",
        required=True,
        metavar="NAME",
        help="a model to include (installed, or pulled first); repeat for more",
    )
    create.add_argument(
        "--platform", metavar="TAG", help="pip platform tag of the target (default: this one)"
    )
    create.add_argument(
        "--python", metavar="X.Y", help="Python version of the target (default: this one)"
    )
    create.add_argument(
        "--wheelhouse-from",
        metavar="DIR",
        help="take every wheel from this folder instead of the package index",
    )
    create.add_argument(
        "--llama",
        choices=("portable", "native"),
        default="portable",
        help="portable: llama.cpp compiled for every CPU, the best variant picked at start "
        "(default; built once, about 10 minutes, then cached); native: this machine's own "
        "build, which may crash on older CPUs",
    )
    from amalia_local.bundle.gpu import GPU_CHOICES  # not llama_build: 10-17 ms of imports

    create.add_argument(
        "--gpu",
        choices=GPU_CHOICES,
        default="none",
        help="GPU backend in a portable build (default none: the target may lack the driver)",
    )
    create.add_argument(
        "--cpu-variants",
        metavar="LIST",
        help="for --platform win_amd64: the CPU variants to compile, comma-separated "
        "(default: all 14, from x64 to sapphirerapids; x64,haswell covers every PC, "
        "AVX2 ones at full speed)",
    )
    verify = actions.add_parser(
        "verify",
        parents=[common],
        help="check a bundle against its manifest",
        description="Check every file's size and sha256; exit 0 only when all is intact.",
    )
    verify.add_argument("path", metavar="DIR")
    verify.set_defaults(handler=handle_verify)


def handle_create(args: argparse.Namespace, runtime: Runtime) -> int:
    store = options.open_store(args, runtime)
    from pathlib import Path

    from amalia_local.bundle.create import CreateRequest
    from amalia_local.bundle.wheelhouse import TargetRequest
    from amalia_local.services.bundle import create_bundle

    if args.gpu != "none" and args.llama == "native":
        raise UsageError("bundle.gpu_needs_portable")
    request = CreateRequest(
        out_dir=Path(args.out_dir),
        models=tuple(args.model),
        target=TargetRequest(platform=args.platform, python=args.python),
        wheels_from=Path(args.wheelhouse_from) if args.wheelhouse_from else None,
        verbose=getattr(args, "verbose", False),
        llama=args.llama,
        gpu=args.gpu,
        wheel_cache=runtime.locations.llama_wheels,
        build_log=runtime.locations.llama_build_log,
        cpu_variants=_variants(args.cpu_variants),
    )
    return create_bundle(request, store, runtime, sys.stdout)


def _variants(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    from amalia_local.bundle.windows_build import check_variants

    return check_variants([name.strip() for name in text.split(",") if name.strip()])


def handle_verify(args: argparse.Namespace, runtime: Runtime) -> int:
    from amalia_local.services.bundle import verify_bundle

    return verify_bundle(args.path, runtime, sys.stdout)
