"""``amalia run``: one prompt, answered on standard output."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from amalia_local.commands import options
from amalia_local.commands.types import positive_int
from amalia_local.errors import AmaliaError, UsageError

if TYPE_CHECKING:
    from amalia_local.documents import Document
    from amalia_local.fit import LoadOptions
    from amalia_local.runtime import Runtime


def add_run(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    run = commands.add_parser(
        "run",
        parents=[common],
        help="answer one prompt and exit",
        description="Answer one prompt (argument or stdin), streamed.",
    )
    run.add_argument("model", nargs="?", metavar="MODEL", help=options.MODEL_HELP)
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
        help="a document to ask about (PDF, DOCX, ODT, HTML, text), or a folder of them "
        "(at most 200 files, 500 MB; files it cannot read are listed and left out); repeat "
        "for more. Piped standard input is added too when PROMPT is given",
    )
    run.add_argument(
        "--pages", metavar="RANGE", help="pages of the PDF documents to read, e.g. 3-10 or 1,4,7-"
    )
    reading = run.add_mutually_exclusive_group()
    reading.add_argument(
        "--passages",
        dest="reading",
        action="store_const",
        const="passages",
        help="read only the passages of the documents that best match the question "
        "(the default when they do not fit the context)",
    )
    reading.add_argument(
        "--whole",
        dest="reading",
        action="store_const",
        const="whole",
        help="read the documents whole, refusing them if they do not fit the context",
    )
    run.set_defaults(reading="auto")
    run.add_argument("--system", metavar="TEXT", help="system prompt (default: the settings')")
    run.add_argument(
        "--temperature",
        type=float,
        metavar="T",
        help="0 = always the most likely token (default: the settings', 0.7)",
    )
    run.add_argument("--top-p", type=float, metavar="P", help="default: the settings', 0.9")
    run.add_argument("--top-k", type=int, metavar="K", help="default 40")
    run.add_argument(
        "--max-tokens", type=positive_int("--max-tokens"), metavar="N", help="stop after N tokens"
    )
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
        "--conversation",
        type=positive_int("--conversation"),
        metavar="ID",
        help="continue the saved conversation ID",
    )
    run.add_argument(
        "--no-save", action="store_true", help="do not save this exchange as a conversation"
    )
    options.engine_flags(run)
    options.endpoint_flags(run)
    run.set_defaults(handler=handle_run)


def handle_run(args: argparse.Namespace, runtime: Runtime) -> int:
    from amalia_local.services.loading import sampling_options, system_prompt
    from amalia_local.services.run import RunRequest, run

    if args.endpoint:
        options.endpoint_positionals(args)
    options.resolve_model(args, runtime)
    if not args.model and not args.endpoint:
        # What argparse said when MODEL was required: --endpoint made it optional.
        message = "the following arguments are required: MODEL"
        raise UsageError("error.usage", message=message, prog="amalia run")
    config = runtime.config
    prompt, piped = _read_prompt(args)
    documents: tuple[Document, ...] = ()
    if args.files or args.pages or piped:
        from amalia_local.services.documents import read_documents

        documents = read_documents(
            args.files,
            args.pages,
            piped,
            cache_dir=runtime.locations.cache_dir,
            on_skipped=lambda error: _say_skipped(error, runtime),
        )
    request = RunRequest(
        model=args.model,
        endpoint=options.endpoint(args),
        prompt=prompt,
        documents=documents,
        reading=args.reading,
        system=system_prompt(config, args.system),
        system_given=args.system is not None,
        load=_load_options(args, runtime),
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


def _say_skipped(error: AmaliaError, runtime: Runtime) -> None:
    """A file of a folder left out: one line, and the others are read."""
    t = runtime.translator.t
    print(f"amalia: {t('folder.skipped', reason=t(error.key, **error.params))}", file=sys.stderr)


def _load_options(args: argparse.Namespace, runtime: Runtime) -> LoadOptions | None:
    """None with --endpoint, where the server has its own (and the fit rules are not
    imported before the first token)."""
    return None if args.endpoint else options.load_options(args, runtime.config)


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
