"""Command line: ``python -m quant SOURCE.gguf --types ... --outdir DIR``.

Thin on purpose: parse arguments, build a :class:`quant.ladder.LadderRequest`, and turn
our typed errors into one ``error: ...`` line and a non-zero exit code (a traceback only
with --debug). Ctrl-C and SIGTERM remove temporary files before leaving.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import traceback
from pathlib import Path

from amalia_local.engine.backends import ensure_loaded
from amalia_local.engine.llama_log import LlamaLogSink
from amalia_local.filecopy import write_text_atomic
from amalia_local.locations import Locations
from quant import ladder, variety_report
from quant.errors import QuantError, UsageError
from quant.types import DEFAULT_TYPES, parse_types
from quant.variety import Variety

DATA_DIR = Path(__file__).parent / "data"
DEFAULT_EVAL = DATA_DIR / "eval_pt.txt"
DEFAULT_CALIBRATION = DATA_DIR / "calibration_pt.txt"
EXIT_INTERRUPTED = 130

_EPILOG = f"""\
Types are llama.cpp's names (Q8_0, Q6_K, Q5_K_M, Q4_K_M, Q3_K_M, IQ4_XS, ...); the default
ladder is {",".join(DEFAULT_TYPES)}. Each output is <source name>-<TYPE>.gguf in --outdir,
with report.json, report.md, manifest.json (sizes and sha256) and README.md (a Hugging Face
model card). The figures compare each file with the source on held-out pt-PT text
(--eval-file; default: quant/data/eval_pt.txt), chunked as llama.cpp's llama-perplexity
does (chunks of --ctx tokens, the second half of each scored), so PPL compares with
published llama-perplexity figures. Each rung, the source included, also gets the pt-PT vs
pt-BR variety measure (459 minimal pairs, 40 greedy answers); --only variety runs just
that on any GGUF. llama.cpp's log goes to the amalia-local log folder (quant-llama.log);
--verbose also shows it.

--imatrix first runs pt-PT calibration text (default: quant/data/calibration_pt.txt)
through the source and records how strongly each weight column is used; llama.cpp's
quantizer then rounds the important columns more carefully. It helps most at 4 bits and
below, and IQ1/IQ2/IQ3_XXS/Q2_K_S require it.
"""


def _size(text: str) -> int:
    units = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
    raw = text.strip().upper().removesuffix("B")
    unit = raw[-1:] if raw[-1:] in units else ""
    try:
        return int(float(raw[: len(raw) - len(unit)]) * units[unit])
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 500M, 2G)") from exc


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m quant",
        description="Quantize a GGUF model into a ladder of llama.cpp types and measure\n"
        "each one's quality in European Portuguese against the source.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("source", metavar="SOURCE.gguf", type=Path, help="f16/bf16/f32 GGUF model")
    p.add_argument("--types", default=",".join(DEFAULT_TYPES), help="comma-separated types")
    p.add_argument("--outdir", type=Path, help="where outputs and reports go (required)")
    p.add_argument("--threads", type=int, help="threads for quantizing and evaluating (all)")
    p.add_argument(
        "--eval-file",
        "--eval",
        dest="eval",
        type=Path,
        default=DEFAULT_EVAL,
        metavar="PATH",
        help="held-out pt-PT text for perplexity/KL (default: quant/data/eval_pt.txt)",
    )
    p.add_argument(
        "--only",
        choices=["variety"],
        help="variety: only the pt-PT vs pt-BR measure, on any GGUF (no quantization); "
        "prints its section, and with --outdir writes variety.md and variety.json",
    )
    p.add_argument(
        "--no-variety", action="store_true", help="skip the pt-PT vs pt-BR measure on each rung"
    )
    p.add_argument(
        "--variety-tokens",
        type=int,
        default=128,
        metavar="N",
        help="greedy tokens per prompt in the variety generation check (128; 0 skips it)",
    )
    p.add_argument(
        "--variety-sample",
        type=int,
        nargs=2,
        metavar=("PAIRS", "PROMPTS"),
        help="a quick, rougher variety run: at most PAIRS pairs per category and the "
        "first PROMPTS prompts (default: all 459 pairs, all 40 prompts)",
    )
    p.add_argument(
        "--imatrix",
        type=Path,
        nargs="?",
        const=DEFAULT_CALIBRATION,
        metavar="TEXT",
        help="compute an importance matrix from pt-PT calibration text and use it "
        "(default text: quant/data/calibration_pt.txt)",
    )
    p.add_argument(
        "--allow-requantize", action="store_true", help="accept an already quantized source"
    )
    p.add_argument("--ctx", type=int, default=512, help="evaluation window in tokens (512)")
    p.add_argument("--pp", type=int, default=128, help="prompt tokens for the speed test")
    p.add_argument("--tg", type=int, default=32, help="generated tokens for the speed test")
    p.add_argument("--reps", type=int, default=3, help="speed repetitions; 0 skips speed")
    p.add_argument("--keep-free", type=_size, default=0, metavar="SIZE", help="e.g. 2G")
    p.add_argument("--base-model", metavar="ORG/NAME", help="Hub id for the model card")
    p.add_argument("--name", help="model name in the reports (default: the GGUF's general.name)")
    p.add_argument("--quiet", action="store_true", help="no progress or status lines")
    p.add_argument("--verbose", action="store_true", help="show llama.cpp's log")
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    return p


def _request(args: argparse.Namespace) -> ladder.LadderRequest:
    if args.threads is not None and args.threads < 1:
        raise UsageError("--threads must be at least 1")
    if args.ctx < 32:
        raise UsageError("--ctx must be at least 32 tokens")
    if min(args.pp, args.tg, args.reps, args.variety_tokens) < 0:
        raise UsageError("--pp, --tg, --reps and --variety-tokens cannot be negative")
    if args.variety_sample is not None and min(args.variety_sample) < 1:
        raise UsageError("--variety-sample needs two positive numbers")
    if args.outdir is None and args.only is None:
        raise UsageError("--outdir is required (except with --only variety)")
    return ladder.LadderRequest(
        source=args.source,
        types=parse_types(args.types, have_imatrix=args.imatrix is not None),
        outdir=args.outdir or Path("."),
        eval_text=args.eval,
        threads=args.threads,
        allow_requantize=args.allow_requantize,
        n_ctx=args.ctx,
        prompt_tokens=args.pp,
        gen_tokens=args.tg,
        repetitions=args.reps,
        keep_free=args.keep_free,
        base_model=args.base_model,
        model_name=args.name,
        show_progress=not args.quiet,
        imatrix_text=args.imatrix,
        variety=not args.no_variety,
        variety_tokens=args.variety_tokens,
        variety_pairs=args.variety_sample[0] if args.variety_sample else None,
        variety_prompts=args.variety_sample[1] if args.variety_sample else None,
    )


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if threading.current_thread() is not threading.main_thread():
        return _run(args)  # signal handlers can only be set from the main thread
    previous = signal.signal(signal.SIGTERM, _interrupt)  # kill cleans up like Ctrl-C
    try:
        return _run(args)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _fail(args: argparse.Namespace, message: str) -> None:
    if args.debug:
        traceback.print_exc()
    print(f"error: {message}", file=sys.stderr)


def _run(args: argparse.Namespace) -> int:
    if args.only == "variety":
        return _run_variety(args)
    existed = args.outdir is not None and args.outdir.exists()
    plan: ladder.Plan | None = None
    try:
        request = _request(args)
        plan = ladder.plan(request)
        log_file = Locations.resolve().log_dir / "quant-llama.log"
        with LlamaLogSink(log_file, echo=args.verbose) as log:
            ensure_loaded()  # a portable llama.cpp build's CPU backend, logged to our file
            try:
                report = ladder.run(plan, log, status=None if args.quiet else sys.stderr)
            except KeyboardInterrupt:
                _cleanup(plan, args, existed)
                _fail(args, "interrupted; temporary files removed")
                _leave_if_quantizing()
                return EXIT_INTERRUPTED
    except QuantError as exc:
        _cleanup(plan, args, existed)
        _fail(args, str(exc))
        return exc.exit_code
    except OSError as exc:  # e.g. the disk filled up after all
        _cleanup(plan, args, existed)
        _fail(args, f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "))
        return 1
    except KeyboardInterrupt:
        _cleanup(plan, args, existed)
        _fail(args, "interrupted; temporary files removed")
        return EXIT_INTERRUPTED
    for rung in report.ranked():
        print(args.outdir / rung.file)
    return 0


def _run_variety(args: argparse.Namespace) -> int:
    """``--only variety``: measure one GGUF, print the section, optionally write it."""
    try:
        request = _request(args)
        log_file = Locations.resolve().log_dir / "quant-llama.log"
        with LlamaLogSink(log_file, echo=args.verbose) as log:
            ensure_loaded()
            variety = ladder.variety_only(
                args.source, request, log, status=None if args.quiet else sys.stderr
            )
        outputs = variety_output(args.source, variety)
        if args.outdir is not None:
            args.outdir.mkdir(parents=True, exist_ok=True)
            for name, text in outputs.items():
                write_text_atomic(args.outdir / name, text)
    except QuantError as exc:
        _fail(args, str(exc))
        return exc.exit_code
    except OSError as exc:
        _fail(args, f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "))
        return 1
    except KeyboardInterrupt:
        _fail(args, "interrupted")
        return EXIT_INTERRUPTED
    sys.stdout.write(outputs["variety.md"])
    return 0


def variety_output(source: Path, variety: Variety) -> dict[str, str]:
    """variety.md and variety.json for one model (the figures of the ladder's section)."""
    md = f"# {variety_report.TITLE}: `{source.name}`\n\n" + variety_report.section(
        [("source", source.name, variety)], level=2
    )
    data = {"model": source.name, **variety_report.as_json("source", variety, None)}
    return {
        "variety.md": md,
        "variety.json": json.dumps(data, ensure_ascii=False, indent=2) + "\n",
    }


def _leave_if_quantizing() -> None:
    """Exit at once if llama.cpp is still quantizing on its thread (it cannot be stopped).

    Its temporary file is already deleted; waiting would only delay the exit, and
    closing the log sink now would hand its remaining log lines to the terminal.
    """
    if any(t.name.startswith("quantize-") and t.is_alive() for t in threading.enumerate()):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(EXIT_INTERRUPTED)


def _cleanup(plan: ladder.Plan | None, args: argparse.Namespace, existed: bool) -> None:
    if plan is not None:
        ladder.cleanup_partials(plan)
    if args.outdir is not None:
        ladder.rmdir_if_created(args.outdir, existed)
