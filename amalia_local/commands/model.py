"""Commands that open one model file: ``info``, ``tokenize``, ``bench``."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from amalia_local.commands import options
from amalia_local.commands.types import positive_int
from amalia_local.errors import UsageError

if TYPE_CHECKING:
    from amalia_local.runtime import Runtime


def add_info(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    info = commands.add_parser(
        "info",
        parents=[common],
        help="describe a GGUF file",
        description="Describe a GGUF model file without loading it.",
    )
    info.add_argument("model", metavar="MODEL", help=options.MODEL_HELP)
    options.ctx_flag(info)
    options.kv_type_flag(info)
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(handler=handle_info)


def handle_info(args: argparse.Namespace, runtime: Runtime) -> int:
    from amalia_local.services.info import info

    options.resolve_model(args, runtime)
    return info(args.model, args.ctx, args.json, runtime, sys.stdout, options.kv_type(args))


def add_tokenize(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    tok = commands.add_parser(
        "tokenize",
        parents=[common],
        help="show the token ids the model is fed for a text",
        description="Token ids and pieces for a text, exactly as the engine feeds them "
        "(like llama.cpp's llama-tokenize).",
    )
    tok.add_argument("model", metavar="MODEL", help=options.MODEL_HELP)
    tok.add_argument(
        "text", nargs="?", metavar="TEXT", help="the text; read from stdin when omitted or '-'"
    )
    tok.add_argument(
        "--special",
        action="store_true",
        help="parse special-token text such as <|im_start|> as special tokens",
    )
    tok.add_argument("--no-bos", action="store_true", help="do not add BOS (or EOS)")
    tok.add_argument("--json", action="store_true", help='print {"ids": [...], "pieces": [...]}')
    tok.set_defaults(handler=handle_tokenize)


def handle_tokenize(args: argparse.Namespace, runtime: Runtime) -> int:
    from amalia_local.services.tokenize import TokenizeRequest, tokenize

    options.resolve_model(args, runtime)
    text = args.text
    if text is None or text == "-":
        if sys.stdin is None or sys.stdin.isatty():
            raise UsageError("error.no_text")
        text = sys.stdin.read()
    request = TokenizeRequest(
        model=args.model,
        text=text,
        special=args.special,
        add_bos=not args.no_bos,
        json_output=args.json,
    )
    return tokenize(request, runtime, sys.stdout)


def add_bench(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    bench = commands.add_parser(
        "bench",
        parents=[common],
        help="measure tokens per second",
        description="Prompt and generation speed (like llama-bench).",
    )
    bench.add_argument("model", metavar="MODEL", help=options.MODEL_HELP)
    bench.add_argument("-p", "--prompt-tokens", type=int, default=512, metavar="N")
    bench.add_argument("-n", "--gen-tokens", type=int, default=128, metavar="N")
    bench.add_argument(
        "-r", "--repetitions", type=positive_int("--repetitions"), default=5, metavar="N"
    )
    bench.add_argument("--json", action="store_true", help="print JSON")
    options.engine_flags(bench)
    bench.set_defaults(handler=handle_bench)


def handle_bench(args: argparse.Namespace, runtime: Runtime) -> int:
    from amalia_local.services.bench import BenchRequest, bench

    options.resolve_model(args, runtime)
    request = BenchRequest(
        model=args.model,
        prompt_tokens=args.prompt_tokens,
        gen_tokens=args.gen_tokens,
        repetitions=args.repetitions,
        load=options.load_options(args, runtime.config),
        json_output=args.json,
    )
    return bench(request, runtime, sys.stdout, sys.stderr)
