"""The ``amalia`` command line: parses arguments, calls one service, maps errors to exits.

Kept thin on purpose: behaviour lives in the services and the engine, so the chat UI and
tests reach the same code. Heavy imports (llama.cpp) happen only in the command that
needs them, so ``amalia --help`` is instant.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from amalia_local import __version__
from amalia_local.errors import AmaliaError, UsageError
from amalia_local.i18n import LANGUAGES, Translator, detect_language


class _Parser(argparse.ArgumentParser):
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
        kwargs.setdefault("formatter_class", _Formatter)
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


class _Formatter(argparse.HelpFormatter):
    """argparse's help layout, with the terminal's width asked once per process.

    argparse makes a formatter for every argument added (to check its metavar), and
    each asked ``shutil`` for the terminal's size: shutil's import (bz2, lzma) and a
    system call per argument, milliseconds of every start for help rarely printed.
    """

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None, **kwargs: Any) -> None:  # fmt: skip
        width = _terminal_columns() - 2 if width is None else width
        super().__init__(prog, indent_increment, max_help_position, width, **kwargs)


@functools.cache
def _terminal_columns() -> int:
    """What ``shutil.get_terminal_size().columns`` says: $COLUMNS, the terminal, or 80."""
    with contextlib.suppress(KeyError, ValueError):
        columns = int(os.environ["COLUMNS"])
        if columns > 0:
            return columns
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns or 80
    except (AttributeError, ValueError, OSError):
        return 80


def _common_flags() -> argparse.ArgumentParser:
    # SUPPRESS lets the same flags appear before or after the sub-command.
    common = argparse.ArgumentParser(add_help=False, formatter_class=_Formatter)
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


def _engine_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ctx", type=int, metavar="N", help="context length in tokens")
    parser.add_argument(
        "--threads", type=int, metavar="N", help="CPU threads (default: physical cores)"
    )
    parser.add_argument(
        "--gpu-layers",
        type=int,
        metavar="N",
        help="layers to offload to the GPU (-1 all; default: all if supported)",
    )
    _kv_type_flag(parser)


def _kv_type_flag(parser: argparse.ArgumentParser) -> None:
    from amalia_local.kv_type import KV_TYPE_CHOICES

    parser.add_argument(
        "--kv-type",
        choices=KV_TYPE_CHOICES,
        metavar="TYPE",
        help="KV cache type: f16, q8_0 (half the RAM) or q4_0; "
        "default f16, q8_0 when the full context would not fit in RAM",
    )


def _endpoint_flags(parser: argparse.ArgumentParser) -> None:
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


_MODEL_HELP = "a .gguf file or an installed model name (amalia, amalia:q8_0, hf:OWNER/REPO:QUANT)"


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole command line or, given ``command``, the top level and that command only.

    argparse spends a few hundred microseconds on each parser (gettext looks for its
    catalogue files, every argument asks for the terminal's width), about 5 ms for all
    of them: a twelfth of what ``run --endpoint`` may take to its first token.
    """
    common = _common_flags()
    parser = _Parser(
        prog="amalia",
        parents=[common],
        description="Run AMALIA and other GGUF models locally with llama.cpp.",
    )
    parser.add_argument("--version", action="version", version=f"amalia-local {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, add in _COMMANDS.items():
        if command is None or name == command:
            add(commands, common)
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
            return arg if arg in _COMMANDS else None
    return None


def _add_run(commands, common: argparse.ArgumentParser) -> None:
    run = commands.add_parser(
        "run",
        parents=[common],
        help="answer one prompt and exit",
        description="Answer one prompt (argument or stdin), streamed.",
    )
    run.add_argument("model", nargs="?", metavar="MODEL", help=_MODEL_HELP)
    run.add_argument(
        "prompt",
        nargs="?",
        metavar="PROMPT",
        help="the question; read from stdin when omitted or '-'",
    )
    run.add_argument(
        "--file",
        dest="files",
        action="append",
        default=[],
        metavar="PATH",
        help="a document to ask about (PDF, DOCX, ODT, HTML, text); repeat for more. "
        "Piped standard input is added too when PROMPT is given",
    )
    run.add_argument(
        "--pages", metavar="RANGE", help="pages of the PDF documents to read, e.g. 3-10 or 1,4,7-"
    )
    run.add_argument("--system", metavar="TEXT", help="system prompt (default: the settings')")
    run.add_argument(
        "--temperature",
        type=float,
        metavar="T",
        help="0 = always the most likely token (default: the settings', 0.7)",
    )
    run.add_argument("--top-p", type=float, metavar="P", help="default: the settings', 0.9")
    run.add_argument("--top-k", type=int, metavar="K", help="default 40")
    run.add_argument("--max-tokens", type=int, metavar="N", help="stop after N tokens")
    run.add_argument("--seed", type=int, metavar="N", help="random seed for sampling")
    run.add_argument("--json", action="store_true", help="print one JSON object: text and stats")
    run.add_argument(
        "--force", action="store_true", help="run even if the model does not fit in available RAM"
    )
    which = run.add_mutually_exclusive_group()
    which.add_argument(
        "--continue",
        dest="continue_last",
        action="store_true",
        help="continue the most recent conversation (the chat's too)",
    )
    which.add_argument(
        "--conversation", type=int, metavar="ID", help="continue the saved conversation ID"
    )
    run.add_argument(
        "--no-save", action="store_true", help="do not save this exchange as a conversation"
    )
    _engine_flags(run)
    _endpoint_flags(run)


def _add_info(commands, common: argparse.ArgumentParser) -> None:
    info = commands.add_parser(
        "info",
        parents=[common],
        help="describe a GGUF file",
        description="Describe a GGUF model file without loading it.",
    )
    info.add_argument("model", metavar="MODEL", help=_MODEL_HELP)
    info.add_argument("--ctx", type=int, metavar="N", help="context length for the RAM estimate")
    _kv_type_flag(info)
    info.add_argument("--json", action="store_true", help="print JSON")


def _add_tokenize(commands, common: argparse.ArgumentParser) -> None:
    tok = commands.add_parser(
        "tokenize",
        parents=[common],
        help="show the token ids the model is fed for a text",
        description="Token ids and pieces for a text, exactly as the engine feeds them "
        "(like llama.cpp's llama-tokenize).",
    )
    tok.add_argument("model", metavar="MODEL", help=_MODEL_HELP)
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


def _add_chat(commands, common: argparse.ArgumentParser) -> None:
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
    _engine_flags(chat)
    _endpoint_flags(chat)


def _add_serve(commands, common: argparse.ArgumentParser) -> None:
    serve = commands.add_parser(
        "serve",
        parents=[common],
        help="serve a model over an OpenAI-compatible HTTP API",
        description="Serve one model at /v1/chat/completions, /v1/completions and /v1/models "
        "for editors, scripts and colleagues; several requests are decoded together.",
    )
    serve.add_argument("model", metavar="MODEL", help=_MODEL_HELP)
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine)"
    )
    serve.add_argument("--port", type=int, default=8080, metavar="N", help="default 8080")
    serve.add_argument(
        "--api-key",
        metavar="KEY",
        help="clients must send it as a Bearer token (default: $AMALIA_API_KEY); "
        "required to listen beyond this machine",
    )
    serve.add_argument(
        "--parallel",
        type=int,
        metavar="N",
        help="requests decoded together (default: from cores and RAM)",
    )
    serve.add_argument(
        "--max-queue",
        type=int,
        default=64,
        metavar="N",
        help="requests that may wait for a free slot before the server answers 503",
    )
    serve.add_argument(
        "--idle-unload",
        type=float,
        metavar="MINUTES",
        help="free the model's memory after this long without requests; it reloads on the next",
    )
    serve.add_argument(
        "--force", action="store_true", help="serve even if the model does not fit in available RAM"
    )
    _engine_flags(serve)


def _add_bench(commands, common: argparse.ArgumentParser) -> None:
    bench = commands.add_parser(
        "bench",
        parents=[common],
        help="measure tokens per second",
        description="Prompt and generation speed (like llama-bench).",
    )
    bench.add_argument("model", metavar="MODEL", help=_MODEL_HELP)
    bench.add_argument("-p", "--prompt-tokens", type=int, default=512, metavar="N")
    bench.add_argument("-n", "--gen-tokens", type=int, default=128, metavar="N")
    bench.add_argument("-r", "--repetitions", type=int, default=5, metavar="N")
    bench.add_argument("--json", action="store_true", help="print JSON")
    _engine_flags(bench)


def _add_pull(commands, common: argparse.ArgumentParser) -> None:
    """The model store (amalia_local.store): pull, list, rm, import, show, doctor."""
    pull = commands.add_parser(
        "pull",
        parents=[common],
        help="download a model by name",
        description="Download a model from the Hugging Face Hub, verify its sha256, install it.",
    )
    pull.add_argument("name", metavar="NAME", help="amalia, amalia:q8_0, hf:OWNER/REPO:QUANT ...")


def _add_list(commands, common: argparse.ArgumentParser) -> None:
    listing = commands.add_parser(
        "list",
        parents=[common],
        help="installed models",
        description="Installed models; --available lists the catalogue and what fits here.",
    )
    listing.add_argument("--available", action="store_true", help="show the catalogue")
    listing.add_argument("--json", action="store_true", help="print JSON")


def _add_rm(commands, common: argparse.ArgumentParser) -> None:
    rm = commands.add_parser(
        "rm", parents=[common], help="remove a model", description="Remove an installed model."
    )
    rm.add_argument("name", metavar="NAME")
    rm.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")


def _add_import(commands, common: argparse.ArgumentParser) -> None:
    imp = commands.add_parser(
        "import",
        parents=[common],
        help="add a local .gguf file or a bundle's models to the store",
        description="Validate a GGUF file and add it (hard link or copy) to the store; "
        "for a bundle folder (amalia bundle create), verify it and add all its models.",
    )
    imp.add_argument("path", metavar="PATH", help="a .gguf file or a bundle folder")
    imp.add_argument("--name", metavar="NAME", help="store name (default: from the file name)")


def _add_show(commands, common: argparse.ArgumentParser) -> None:
    show = commands.add_parser(
        "show",
        parents=[common],
        help="describe an installed model",
        description="What 'amalia info' prints, plus the store's record.",
    )
    show.add_argument("name", metavar="NAME")
    show.add_argument("--ctx", type=int, metavar="N", help="context length for the RAM estimate")
    show.add_argument("--json", action="store_true", help="print JSON")


def _add_doctor(commands, common: argparse.ArgumentParser) -> None:
    doctor = commands.add_parser(
        "doctor",
        parents=[common],
        help="check this machine and recommend a model",
        description="System, llama.cpp build, store and which catalogue models fit.",
    )
    doctor.add_argument("--json", action="store_true", help="print JSON")


def _add_bundle(commands, common: argparse.ArgumentParser) -> None:
    """bundle create / verify: air-gapped installs (amalia_local.bundle)."""
    bundle = commands.add_parser(
        "bundle",
        parents=[common],
        help="make or check a bundle for machines without a network",
        description="A folder with models, wheels and install scripts for offline machines.",
    )
    actions = bundle.add_subparsers(
        dest="bundle_command", metavar="ACTION", parser_class=_Parser, required=True
    )
    create = actions.add_parser(
        "create",
        parents=[common],
        help="write a new bundle",
        description="Write models, every wheel for the target, install scripts and a "
        "manifest into OUT_DIR (which must not exist or be empty).",
    )
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
    verify = actions.add_parser(
        "verify",
        parents=[common],
        help="check a bundle against its manifest",
        description="Check every file's size and sha256; exit 0 only when all is intact.",
    )
    verify.add_argument("path", metavar="DIR")


# In the order ``amalia --help`` lists them.
_COMMANDS = {
    "run": _add_run,
    "info": _add_info,
    "tokenize": _add_tokenize,
    "chat": _add_chat,
    "serve": _add_serve,
    "bench": _add_bench,
    "pull": _add_pull,
    "list": _add_list,
    "rm": _add_rm,
    "import": _add_import,
    "show": _add_show,
    "doctor": _add_doctor,
    "bundle": _add_bundle,
}


def _positive(value: int | None, flag: str) -> None:
    if value is not None and value <= 0:
        raise UsageError("error.not_positive", flag=flag)


def _load_options(args: argparse.Namespace, config):
    """The chat's settings (config.toml) with this command's flags winning."""
    from amalia_local.services.loading import load_options

    _positive(args.ctx, "--ctx")
    _positive(args.threads, "--threads")
    return load_options(
        config,
        n_ctx=args.ctx,
        n_threads=args.threads,
        n_gpu_layers=args.gpu_layers,
        kv_type=getattr(args, "kv_type", None),
    )


def _run_load_options(args: argparse.Namespace, config):
    """``run``'s load settings; None with --endpoint, where the server has its own (the
    flags are still checked, and the fit rules not imported before the first token)."""
    if not args.endpoint:
        return _load_options(args, config)
    _positive(args.ctx, "--ctx")
    _positive(args.threads, "--threads")
    return None


def _kv_type(args: argparse.Namespace, config=None):
    """--kv-type, else the setting, else None (the engine picks from the RAM)."""
    from amalia_local.kv_type import from_setting

    return from_setting(getattr(args, "kv_type", None) or getattr(config, "kv_type", None))


def _read_prompt(args: argparse.Namespace) -> tuple[str, bytes | None]:
    """The question, and piped standard input's bytes when the question was given too
    (``cat notas.txt | amalia run amalia "Resume"``: the input becomes a document)."""
    prompt = args.prompt
    piped: bytes | None = None
    if prompt is None or prompt == "-":
        if sys.stdin is None or sys.stdin.isatty():
            raise UsageError("error.no_prompt")
        prompt = sys.stdin.read()
    elif sys.stdin is not None and not sys.stdin.isatty():
        buffer = getattr(sys.stdin, "buffer", None)
        piped = buffer.read() if buffer is not None else sys.stdin.read().encode("utf-8")
    if not prompt.strip():
        raise UsageError("error.empty_prompt")
    return prompt, piped


def _dispatch(args: argparse.Namespace, runtime, argv: Sequence[str] = ()) -> int:
    if args.command in _STORE_COMMANDS:
        return _dispatch_store(args, runtime)
    if args.command in ("run", "chat") and args.endpoint:
        _endpoint_positionals(args)
    if args.command == "serve":
        return _serve(args, runtime)
    if args.command in ("run", "info", "bench", "chat", "tokenize") and getattr(
        args, "model", None
    ):
        args.model = _open_store(args, runtime).resolve_path(args.model)
    if args.command == "run":
        from amalia_local.services.loading import sampling_options, system_prompt
        from amalia_local.services.run import RunRequest, run

        _positive(args.max_tokens, "--max-tokens")
        if not args.model and not args.endpoint:
            # What argparse said when MODEL was required: --endpoint made it optional.
            message = "the following arguments are required: MODEL"
            raise UsageError("error.usage", message=message, prog="amalia run")
        _positive(args.conversation, "--conversation")
        config = runtime.config
        prompt, piped = _read_prompt(args)
        documents = ()
        if args.files or args.pages or piped:
            from amalia_local.services.documents import read_documents

            documents = read_documents(args.files, args.pages, piped)
        request = RunRequest(
            model=args.model,
            endpoint=_endpoint(args),
            prompt=prompt,
            documents=documents,
            system=system_prompt(config, args.system),
            system_given=args.system is not None,
            load=_run_load_options(args, config),
            sampling=sampling_options(
                config,
                temperature=args.temperature,
                top_p=args.top_p,
                top_k=args.top_k,
                max_tokens=args.max_tokens,
                seed=args.seed,
            ),
            json_output=args.json,
            force=args.force,
            continue_last=args.continue_last,
            conversation=args.conversation,
            save=not args.no_save,
            state_cache_gb=config.state_cache_gb,
        )
        return run(request, runtime, sys.stdout, sys.stderr)
    if args.command == "info":
        from amalia_local.services.info import info

        _positive(args.ctx, "--ctx")
        return info(args.model, args.ctx, args.json, runtime, sys.stdout, _kv_type(args))
    if args.command == "tokenize":
        from amalia_local.services.tokenize import TokenizeRequest, tokenize

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
    if args.command == "chat":
        from amalia_local.tui.run import ChatRequest, run_chat

        _positive(args.ctx, "--ctx")
        _positive(args.threads, "--threads")
        request = ChatRequest(
            model=args.model,
            n_ctx=args.ctx,
            n_threads=args.threads,
            n_gpu_layers=args.gpu_layers,
            language_forced=any(a == "--lang" or a.startswith("--lang=") for a in argv),
            force=args.force,
            offline=getattr(args, "offline", False),
            kv_type=args.kv_type,
            endpoint=_endpoint(args),
        )
        return run_chat(request, runtime)
    if args.command == "bench":
        from amalia_local.services.bench import BenchRequest, bench

        _positive(args.repetitions, "--repetitions")
        request = BenchRequest(
            model=args.model,
            prompt_tokens=args.prompt_tokens,
            gen_tokens=args.gen_tokens,
            repetitions=args.repetitions,
            load=_load_options(args, runtime.config),
            json_output=args.json,
        )
        return bench(request, runtime, sys.stdout, sys.stderr)
    raise AssertionError(f"unhandled command {args.command}")


def _endpoint_positionals(args: argparse.Namespace) -> None:
    """With --endpoint there is no local model: ``run --endpoint URL "question"``."""
    if args.command == "run" and args.model is not None and args.prompt is None:
        args.model, args.prompt = None, args.model
    if args.model is not None:
        raise UsageError("error.endpoint_no_model_arg")


def _endpoint(args: argparse.Namespace):
    from amalia_local.remote.spec import EndpointSpec

    if not args.endpoint:
        return None
    key = args.api_key or os.environ.get("AMALIA_API_KEY") or None
    return EndpointSpec(url=args.endpoint, api_key=key, model=args.endpoint_model)


def _serve(args: argparse.Namespace, runtime) -> int:
    from pathlib import Path

    from amalia_local.services.serve import ServeRequest, serve

    _positive(args.parallel, "--parallel")
    _positive(args.max_queue, "--max-queue")
    if args.idle_unload is not None and args.idle_unload <= 0:
        raise UsageError("error.not_positive", flag="--idle-unload")
    if not 0 <= args.port <= 65535:
        raise UsageError("error.usage", message=f"invalid port {args.port}", prog="amalia serve")
    path = _open_store(args, runtime).resolve_path(args.model)
    config = runtime.config
    name = Path(args.model).stem if args.model.lower().endswith(".gguf") else args.model
    request = ServeRequest(
        model=path,
        name=name,
        host=args.host,
        port=args.port,
        api_key=args.api_key or os.environ.get("AMALIA_API_KEY") or None,
        parallel=args.parallel,
        max_queue=args.max_queue,
        idle_unload_minutes=args.idle_unload,
        load=_load_options(args, config),
        force=args.force,
        state_cache_gb=config.state_cache_gb,
    )
    return serve(request, runtime, sys.stdout)


_STORE_COMMANDS = ("pull", "list", "rm", "import", "show", "doctor", "bundle")


def _open_store(args: argparse.Namespace, runtime):
    from amalia_local.store import ModelStore

    return ModelStore.open(
        runtime.locations,
        offline=getattr(args, "offline", False),
        config_offline=runtime.config.offline,
    )


def _dispatch_store(args: argparse.Namespace, runtime) -> int:
    if args.command == "bundle" and args.bundle_command == "verify":
        from amalia_local.services.bundle import verify_bundle

        return verify_bundle(args.path, runtime, sys.stdout)
    store = _open_store(args, runtime)
    if args.command == "bundle":
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
        )
        return create_bundle(request, store, runtime, sys.stdout)
    if args.command == "pull":
        from amalia_local.services.pull import pull

        return pull(args.name, store, runtime, sys.stdout)
    if args.command == "list":
        from amalia_local.services import list_models

        if args.available:
            from amalia_local import hardware

            available = hardware.memory().available_bytes
            return list_models.list_available(store, runtime, sys.stdout, args.json, available)
        return list_models.list_installed(store, runtime, sys.stdout, args.json)
    if args.command == "rm":
        from amalia_local.services.remove import remove

        return remove(args.name, store, runtime, sys.stdout, sys.stdin, args.yes)
    if args.command == "import":
        from amalia_local.services.import_model import import_model

        return import_model(args.path, args.name, store, runtime, sys.stdout)
    if args.command == "show":
        from amalia_local.services.show import show

        _positive(args.ctx, "--ctx")
        return show(args.name, args.ctx, args.json, store, runtime, sys.stdout)
    from amalia_local.services.doctor import doctor

    return doctor(store, runtime, sys.stdout, args.json)


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
        return _dispatch(args, runtime, argv)
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


def _print_error(message: str) -> None:
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.flush()  # keep the partial answer before the error line
    print(f"amalia: {message}", file=sys.stderr)


def _silence_stdout() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


if __name__ == "__main__":
    raise SystemExit(main())
