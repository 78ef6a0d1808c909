"""``amalia serve``: one model behind an OpenAI-compatible HTTP API."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from amalia_local.commands import options
from amalia_local.commands.types import (
    non_negative_int,
    port_number,
    positive_float,
    positive_int,
)

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
        "--api-keys-file",
        type=Path,
        metavar="PATH",
        help="one 'name key' per line, with optional requests_per_minute=N tokens_per_day=N; "
        "re-read on SIGHUP; the audit log and /metrics name each request's key",
    )
    serve.add_argument(
        "--audit-log",
        type=Path,
        metavar="PATH",
        help="append one JSON line per request (time, key, client, endpoint, tokens, timings, "
        "status) to this file",
    )
    serve.add_argument(
        "--audit-log-max-mb",
        type=positive_float("--audit-log-max-mb"),
        default=100.0,
        metavar="MB",
        help="rotate the audit log at this size (default 100)",
    )
    serve.add_argument(
        "--audit-log-keep",
        type=non_negative_int("--audit-log-keep"),
        default=5,
        metavar="N",
        help="rotated audit logs kept: PATH.1 ... PATH.N (default 5)",
    )
    serve.add_argument(
        "--log-content",
        action="store_true",
        help="the audit log also keeps each request's messages and the answer",
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
        api_keys_file=args.api_keys_file,
        audit_log=args.audit_log,
        audit_log_max_mb=args.audit_log_max_mb,
        audit_log_keep=args.audit_log_keep,
        log_content=args.log_content,
        parallel=args.parallel,
        max_queue=args.max_queue,
        idle_unload_minutes=args.idle_unload,
        load=options.load_options(args, config),
        force=args.force,
        state_cache_gb=config.state_cache_gb,
    )
    return serve(request, runtime, sys.stdout)
