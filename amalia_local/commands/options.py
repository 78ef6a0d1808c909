"""Flags and steps that several commands share: the engine's flags, --endpoint, the store.

The helpers turn parsed flags into what the services take; they import the store, the
settings and the remote client only when called.
"""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING

from amalia_local.commands.types import positive_int
from amalia_local.errors import UsageError

if TYPE_CHECKING:
    from amalia_local.config import Config
    from amalia_local.fit import LoadOptions
    from amalia_local.remote.spec import EndpointSpec
    from amalia_local.runtime import Runtime
    from amalia_local.store import ModelStore

MODEL_HELP = "a .gguf file or an installed model name (amalia, amalia:q8_0, hf:OWNER/REPO:QUANT)"


def engine_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ctx", type=positive_int("--ctx"), metavar="N", help="context length in tokens"
    )
    parser.add_argument(
        "--threads",
        type=positive_int("--threads"),
        metavar="N",
        help="CPU threads (default: physical cores)",
    )
    parser.add_argument(
        "--gpu-layers",
        type=int,
        metavar="N",
        help="layers to offload to the GPU (-1 all; default: all if supported)",
    )
    kv_type_flag(parser)


def ctx_flag(parser: argparse.ArgumentParser) -> None:
    """--ctx of the commands that only estimate (info, show)."""
    parser.add_argument(
        "--ctx",
        type=positive_int("--ctx"),
        metavar="N",
        help="context length for the RAM estimate",
    )


def kv_type_flag(parser: argparse.ArgumentParser) -> None:
    from amalia_local.kv_type import KV_TYPE_CHOICES

    parser.add_argument(
        "--kv-type",
        choices=KV_TYPE_CHOICES,
        metavar="TYPE",
        help="KV cache type: f16, q8_0 (half the RAM) or q4_0; "
        "default f16, q8_0 when the full context would not fit in RAM",
    )


def endpoint_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--endpoint",
        metavar="URL",
        help="use the model of an OpenAI-compatible server (amalia serve, llama-server, vLLM, "
        "Ollama) instead of a local file, e.g. http://192.168.1.10:8080/v1",
    )
    parser.add_argument(
        "--api-key", metavar="KEY", help="the server's API key (default: $AMALIA_API_KEY)"
    )
    parser.add_argument(
        "--model",
        dest="endpoint_model",
        metavar="NAME",
        help="which of the server's models (/v1/models) to use (default: its first)",
    )


def load_options(args: argparse.Namespace, config: Config) -> LoadOptions:
    """The chat's settings (config.toml) with this command's flags winning."""
    from amalia_local.services.loading import load_options as from_settings

    return from_settings(
        config,
        n_ctx=args.ctx,
        n_threads=args.threads,
        n_gpu_layers=args.gpu_layers,
        kv_type=getattr(args, "kv_type", None),
    )


def kv_type(args: argparse.Namespace, config: Config | None = None):
    """--kv-type, else the setting, else None (the engine picks from the RAM)."""
    from amalia_local.kv_type import from_setting

    return from_setting(getattr(args, "kv_type", None) or getattr(config, "kv_type", None))


def api_key(args: argparse.Namespace) -> str | None:
    return args.api_key or os.environ.get("AMALIA_API_KEY") or None


def endpoint(args: argparse.Namespace) -> EndpointSpec | None:
    from amalia_local.remote.spec import EndpointSpec

    if not args.endpoint:
        return None
    return EndpointSpec(url=args.endpoint, api_key=api_key(args), model=args.endpoint_model)


def endpoint_positionals(args: argparse.Namespace) -> None:
    """With --endpoint there is no local model: ``run --endpoint URL "question"``."""
    if args.command == "run" and args.model is not None and args.prompt is None:
        args.model, args.prompt = None, args.model
    if args.model is not None:
        raise UsageError("error.endpoint_no_model_arg")


def open_store(args: argparse.Namespace, runtime: Runtime) -> ModelStore:
    from amalia_local.store import ModelStore

    return ModelStore.open(
        runtime.locations,
        offline=getattr(args, "offline", False),
        config_offline=runtime.config.offline,
    )


def resolve_model(args: argparse.Namespace, runtime: Runtime) -> None:
    """MODEL, a store name or a path, made the path of the file to open."""
    if args.model:
        args.model = open_store(args, runtime).resolve_path(args.model)
