"""``amalia serve``: one model behind an OpenAI-compatible HTTP API."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from amalia_local.commands import options
from amalia_local.commands.types import port_number, positive_float, positive_int

if TYPE_CHECKING:
    from amalia_local.runtime import Runtime


def add_serve(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    serve = commands.add_parser(
        "serve",
        parents=[common],
        help="serve a model over an OpenAI-compatible HTTP API",
        description="Serve one model at /v1/chat/completions, /v1/completions and /v1/models "
        "for editors, scripts and colleagues; several requests are decoded together.",
    )
    serve.add_argument("model", metavar="MODEL", help=options.MODEL_HELP)
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine)"
    )
    serve.add_argument(
        "--port", type=port_number(serve.prog), default=8080, metavar="N", help="default 8080"
    )
    serve.add_argument(
        "--api-key",
        metavar="KEY",
        help="clients must send it as a Bearer token (default: $AMALIA_API_KEY); "
        "required to listen beyond this machine",
    )
    serve.add_argument(
        "--parallel",
        type=positive_int("--parallel"),
        metavar="N",
        help="requests decoded together (default: from cores and RAM)",
    )
    serve.add_argument(
        "--max-queue",
        type=positive_int("--max-queue"),
        default=64,
        metavar="N",
        help="requests that may wait for a free slot before the server answers 503",
    )
    serve.add_argument(
        "--idle-unload",
        type=positive_float("--idle-unload"),
        metavar="MINUTES",
        help="free the model's memory after this long without requests; it reloads on the next",
    )
    serve.add_argument(
        "--force", action="store_true", help="serve even if the model does not fit in available RAM"
    )
    options.engine_flags(serve)
    serve.set_defaults(handler=handle_serve)


def handle_serve(args: argparse.Namespace, runtime: Runtime) -> int:
    from pathlib import Path

    from amalia_local.services.serve import ServeRequest, serve

    path = options.open_store(args, runtime).resolve_path(args.model)
    config = runtime.config
    name = Path(args.model).stem if args.model.lower().endswith(".gguf") else args.model
    request = ServeRequest(
        model=path,
        name=name,
        host=args.host,
        port=args.port,
        api_key=options.api_key(args),
        parallel=args.parallel,
        max_queue=args.max_queue,
        idle_unload_minutes=args.idle_unload,
        load=options.load_options(args, config),
        force=args.force,
        state_cache_gb=config.state_cache_gb,
    )
    return serve(request, runtime, sys.stdout)
