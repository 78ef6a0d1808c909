"""Command line: ``python -m convert HF_DIR [-o OUT.gguf] [--outtype ...] [--name NAME]``,
and ``python -m convert --verify HF_DIR MODEL.gguf`` (see :mod:`convert.verify`).

Thin on purpose: parse arguments, call :mod:`convert.core`, and turn our typed errors
into one ``error: ...`` line and a non-zero exit code (a traceback only with --debug).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import traceback
from pathlib import Path

from convert.core import default_output, prepare, write_gguf
from convert.errors import ConvertError
from convert.tensors import OutType

_EPILOG = """\
output types:
  auto  keep the checkpoint's own precision: bf16 weights (AMALIA, EuroLLM) give a bf16
        file, f16 give f16, f32 give f32. Conversion then loses nothing; quantize
        afterwards for speed and size. (bf16 -> f16 is exact only between about 6e-5
        and 65504 in magnitude: larger values overflow, smaller ones lose bits.)
  f32   full precision, twice the size of bf16
  f16   half precision; widely supported by llama.cpp back ends
  bf16  bfloat16; a bit-exact copy of bf16 checkpoints
  q8_0  8-bit blocks of 32 (about 8.5 bits/weight), near-lossless; rows whose length
        is not a multiple of 32 stay f16

The default output is ./<NAME>-<OUTTYPE>.gguf in the current directory, where NAME is
--name or HF_DIR's directory name. Norm weights are always stored as f32.
"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m convert",
        description="Convert a Hugging Face Llama/Mistral safetensors checkpoint\n"
        "(such as AMALIA) to a GGUF file for llama.cpp, in bounded memory.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model_dir", metavar="HF_DIR", type=Path, help="local Hugging Face model folder")
    p.add_argument(
        "gguf",
        nargs="?",
        metavar="MODEL.gguf",
        type=Path,
        help="with --verify: the GGUF file to check against HF_DIR",
    )
    p.add_argument(
        "--verify",
        action="store_true",
        help="compare MODEL.gguf with HF_DIR in transformers (token ids of probe texts and a "
        "chat; logits of 64 tokens when torch is installed); exit 1 on any mismatch",
    )
    p.add_argument("-o", "--output", type=Path, metavar="OUT.gguf", help="output file")
    p.add_argument(
        "--outtype",
        choices=[t.value for t in OutType],
        default=OutType.AUTO.value,
        help="weight precision (default: auto, see below)",
    )
    p.add_argument("--name", help="model name stored in the file (general.name)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    return p


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.verify != (args.gguf is not None):
        parser.error("MODEL.gguf goes with --verify (python -m convert --verify HF_DIR MODEL.gguf)")
    if args.verify:
        return _verify(args)
    if threading.current_thread() is not threading.main_thread():
        return _run(args)  # signal handlers can only be set from the main thread
    # `kill` (SIGTERM) should clean up the temporary file exactly like Ctrl-C does
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        return _run(args)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _verify(args: argparse.Namespace) -> int:
    from convert.verify import table, verify, write_record

    try:
        checks, logits = verify(args.model_dir, args.gguf)
    except ConvertError as e:
        if args.debug:
            traceback.print_exc()
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    print(table(checks))
    if not logits:
        print("note: torch is not installed; logits were not compared", file=sys.stderr)
    failed = [c for c in checks if not c.ok]
    if failed:
        message = f"{len(failed)} of {len(checks)} checks differ from transformers"
        print(f"error: {message}", file=sys.stderr)
        return 1
    try:
        print(f"verified; record written to {write_record(args.model_dir, args.gguf, logits)}")
    except OSError as e:
        print(f"warning: verified, but the record could not be written: {e}", file=sys.stderr)
    return 0


def _run(args: argparse.Namespace) -> int:
    try:
        prep = prepare(args.model_dir, OutType(args.outtype), args.name)
        out = args.output if args.output is not None else default_output(prep)
        warnings = write_gguf(prep, out, show_progress=not args.quiet)
    except ConvertError as e:
        if args.debug:
            traceback.print_exc()
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    except OSError as e:  # e.g. a checkpoint file we may not read
        if args.debug:
            traceback.print_exc()
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        if args.debug:
            traceback.print_exc()
        print("error: interrupted; no output written", file=sys.stderr)
        return 130
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    print(out)
    return 0
