"""The whole run: check everything, quantize each rung, measure each file, write reports.

Every check that can fail on the user's input (source, types, evaluation text, output
directory, free space) runs before the first byte is written, so bad input costs nothing
and leaves nothing behind. Scratch data (the source's logits) lives in a hidden
directory inside the output directory, where the space was checked, and is removed at
the end whatever happens.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import llama_cpp

from amalia_local.engine import Engine, LoadOptions
from amalia_local.engine.llama_log import LlamaLogSink
from amalia_local.errors import AmaliaError
from amalia_local.formatting import human_bytes
from amalia_local.model_file import ModelFile, inspect
from amalia_local.progress import Progress
from amalia_local.services.bench import BenchRequest, measure
from convert.verify import read_record
from quant.errors import EvaluationError, OutputError, SourceError
from quant.evaluate import (
    Evaluation,
    Reference,
    open_for_logits,
    perplexity_chunks,
    tokenize_text,
)
from quant.imatrix import CImatrix, Imatrix
from quant.imatrix import compute as compute_imatrix
from quant.quantize import default_threads, partial_name, quantize_file
from quant.report import Report, Rung, Speed, sha256_file, write_all
from quant.types import (
    QUANT_TYPES,
    UNQUANTIZED_TENSOR_TYPES,
    QuantType,
    file_type_name,
)
from quant.variety import (
    PAIR_CTX,
    Variety,
    count_markers,
    generate_answers,
    score_pairs,
    with_generation,
)
from quant.variety_data import Lexicon, first_per_category, load_pairs, load_prompts

# Room for GGUF metadata and filesystem slack on top of the tensor estimate.
_METADATA_SLACK = 1.05
# Upper bound on tokens per byte of pt-PT text, to size the scratch logits before
# tokenizing (byte-level tokenizers on accented text approach one token per 2 bytes).
_TOKENS_PER_BYTE = 0.5
REPORT_FILES = ("report.json", "report.md", "manifest.json", "README.md")


@dataclass(frozen=True)
class LadderRequest:
    source: Path
    types: list[QuantType]
    outdir: Path
    eval_text: Path
    threads: int | None = None
    allow_requantize: bool = False
    n_ctx: int = 512
    prompt_tokens: int = 128
    gen_tokens: int = 32
    repetitions: int = 3  # 0: no speed measurement
    keep_free: int = 0
    base_model: str | None = None
    model_name: str | None = None
    show_progress: bool = True
    imatrix_text: Path | None = None  # calibration text for an importance matrix
    variety: bool = True  # score the pt-PT / pt-BR minimal pairs on every rung
    variety_tokens: int = 128  # greedy tokens per prompt for the generation check (0: none)
    variety_pairs: int | None = None  # at most this many pairs per category (None: all)
    variety_prompts: int | None = None  # only the first N generation prompts (None: all 40)

    @property
    def n_threads(self) -> int:
        return self.threads if self.threads and self.threads > 0 else default_threads()


@dataclass(frozen=True)
class Plan:
    """A request whose inputs were all checked: what will be read and written."""

    request: LadderRequest
    source: ModelFile
    source_type: str
    text: str
    calibration: str | None
    outputs: dict[str, Path]  # type name -> final path
    needed_bytes: int


# --- checks -----------------------------------------------------------------------------
def output_stem(source: Path) -> str:
    """``AMALIA-9B-BF16.gguf`` -> ``AMALIA-9B``: drop a trailing type so names stay clean."""
    stem = source.stem
    match = re.search(r"[-._]([A-Za-z0-9_]+)$", stem)
    if match and match.group(1).upper() in QUANT_TYPES:
        return stem[: match.start()]
    return stem


def _check_source(request: LadderRequest) -> tuple[ModelFile, str]:
    if not request.source.exists():
        raise SourceError(f"source not found: {request.source}")
    try:
        model = inspect(request.source)
    except AmaliaError as exc:  # missing, not GGUF, truncated, unknown architecture
        raise SourceError(str(exc)) from exc
    source_type = file_type_name(model.get("general.file_type")) or "unknown"
    quantized = any(t.ggml_type not in UNQUANTIZED_TENSOR_TYPES for t in model.tensors)
    if quantized and not request.allow_requantize:
        raise SourceError(
            f"{request.source.name} is already quantized ({source_type}); quantizing it again "
            "loses more quality than quantizing the f16/bf16 original. Use the original, or "
            "pass --allow-requantize"
        )
    return model, source_type


def _read_text(path: Path, what: str = "evaluation") -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise EvaluationError(f"{what} text not found: {path}") from exc
    except UnicodeDecodeError as exc:
        raise EvaluationError(f"{what} text is not UTF-8: {path}") from exc
    except (OSError, ValueError) as exc:
        raise EvaluationError(f"cannot read the {what} text {path}: {exc}") from exc
    if not text.strip():
        raise EvaluationError(f"{what} text is empty: {path}")
    return text


def _check_outdir(outdir: Path) -> None:
    """The directory exists (or can be created) and we can really create files in it."""
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the output directory {outdir}: {exc.strerror}") from exc
    if not outdir.is_dir():
        raise OutputError(f"output directory is not a directory: {outdir}")
    try:  # a real probe: access() says yes to root on read-only mounts and 0555 folders
        with tempfile.NamedTemporaryFile(dir=outdir, prefix=".quant-probe-"):
            pass
    except OSError as exc:
        raise OutputError(f"output directory is not writable: {outdir} ({exc.strerror})") from exc


def estimate_output_bytes(model: ModelFile, qtype: QuantType) -> int:
    """Upper-side size of ``model`` quantized as ``qtype`` (metadata kept as is)."""
    metadata = model.size_bytes - model.tensor_bytes
    tensors = model.parameter_count * qtype.nominal_bpw / 8
    return int((metadata + tensors) * _METADATA_SLACK)


def scratch_bytes(model: ModelFile, text: str) -> int:
    """The source's float32 logits for every evaluated token, kept on disk."""
    tokens = len(text.encode("utf-8")) * _TOKENS_PER_BYTE
    return int(tokens * max(model.vocab_size, 1) * 4)


def plan(request: LadderRequest) -> Plan:
    """Every check, in order; raises a :class:`QuantError` naming the first problem."""
    model, source_type = _check_source(request)
    text = _read_text(request.eval_text)
    calibration = None
    if request.imatrix_text is not None:
        calibration = _read_text(request.imatrix_text, "calibration")
    stem = output_stem(request.source)
    outputs = {t.name: request.outdir / f"{stem}-{t.name}.gguf" for t in request.types}
    for path in outputs.values():
        if path.resolve() == request.source.resolve():
            raise OutputError(f"the output {path} would overwrite the source; use another --outdir")
    _check_outdir(request.outdir)
    needed = sum(estimate_output_bytes(model, t) for t in request.types)
    needed += scratch_bytes(model, text) + request.keep_free
    for path in outputs.values():  # files we replace give their space back
        with contextlib.suppress(OSError):
            needed -= path.stat().st_size
    free = shutil.disk_usage(request.outdir).free
    if free < needed:
        raise OutputError(
            f"not enough free space in {request.outdir}: the ladder needs about "
            f"{human_bytes(needed)}, {human_bytes(free)} is free"
        )
    return Plan(request, model, source_type, text, calibration, outputs, needed)


# --- the run --------------------------------------------------------------------------
def _speed(path: Path, request: LadderRequest, log: LlamaLogSink) -> Speed | None:
    if request.repetitions <= 0:
        return None
    # room for the longer of the two tests (each starts from an empty cache)
    n_ctx = max(request.prompt_tokens, request.gen_tokens, 240) + 16
    load = LoadOptions(n_ctx=n_ctx, n_threads=request.n_threads)
    bench = BenchRequest(
        model=str(path),
        prompt_tokens=request.prompt_tokens,
        gen_tokens=request.gen_tokens,
        repetitions=request.repetitions,
        load=load,
    )
    try:
        with Engine.open(str(path), load, log) as engine:
            results = {r.test[:2]: r for r in measure(engine, bench)}
    except AmaliaError as exc:
        raise EvaluationError(f"cannot time {path.name}: {exc}") from exc
    pp, tg = results.get("pp"), results.get("tg")
    return Speed(
        prompt_mean=pp.mean if pp else 0.0,
        prompt_stdev=pp.stdev if pp else 0.0,
        gen_mean=tg.mean if tg else 0.0,
        gen_stdev=tg.stdev if tg else 0.0,
        prompt_tokens=request.prompt_tokens,
        gen_tokens=request.gen_tokens,
        repetitions=request.repetitions,
    )


def _say(stream: TextIO | None, message: str) -> None:
    if stream is not None:
        stream.write(message + "\n")
        stream.flush()


def _quantize_all(
    p: Plan, log: LlamaLogSink, status: TextIO | None, imatrix: CImatrix | None
) -> dict[str, float]:
    seconds: dict[str, float] = {}
    n_tensors = len(p.source.tensors)
    for qtype in p.request.types:
        dest = p.outputs[qtype.name]
        start = time.perf_counter()
        if p.request.show_progress:
            with Progress(total=n_tensors, unit="tensors", label=f"{qtype.name:<7}") as bar:
                state = {"done": 0}

                def tick(i: int, _n: int, bar: Progress = bar, state: dict = state) -> None:
                    bar.update(i - state["done"])
                    state["done"] = i

                _run_one(p, qtype, dest, log, tick, imatrix)
        else:
            _run_one(p, qtype, dest, log, None, imatrix)
        seconds[qtype.name] = time.perf_counter() - start
        _say(status, f"wrote {dest} ({human_bytes(dest.stat().st_size)})")
    return seconds


def _run_one(
    p: Plan,
    qtype: QuantType,
    dest: Path,
    log: LlamaLogSink,
    tick: Callable[[int, int], None] | None,
    imatrix: CImatrix | None,
) -> None:
    quantize_file(
        p.request.source,
        dest,
        qtype,
        log,
        threads=p.request.n_threads,
        allow_requantize=p.request.allow_requantize,
        on_tensor=tick,
        imatrix=imatrix,
    )


def _rung(
    name: str,
    path: Path,
    evaluation: Evaluation,
    speed: Speed | None,
    seconds: float | None,
    with_hash: bool,
    variety: Variety | None = None,
) -> Rung:
    model = inspect(path)
    return Rung(
        name=name,
        file=path.name,
        file_type=file_type_name(model.get("general.file_type")) or "unknown",
        size_bytes=model.size_bytes,
        bits_per_weight=model.bits_per_weight,
        evaluation=evaluation,
        speed=speed,
        quantize_seconds=seconds,
        sha256=sha256_file(path) if with_hash else None,
        type_breakdown=model.type_breakdown(),
        variety=variety,
    )


# --- variety (pt-PT vs pt-BR) ----------------------------------------------------------
def _pairs(llm: llama_cpp.Llama, request: LadderRequest, status: TextIO | None) -> Variety | None:
    """The minimal pairs through a model already open for logits (the evaluation's)."""
    if not request.variety:
        return None
    _say(status, "  scoring the pt-PT / pt-BR pairs")
    return score_pairs(llm, _chosen_pairs(request))


def _chosen_pairs(request: LadderRequest) -> list:
    return first_per_category(load_pairs(), request.variety_pairs)


def _generation(
    path: Path,
    pairs: Variety | None,
    request: LadderRequest,
    log: LlamaLogSink,
    status: TextIO | None,
) -> Variety | None:
    """Adds the generation check (greedy answers, markers per 1,000 words) to ``pairs``."""
    if pairs is None or request.variety_tokens <= 0:
        return pairs
    prompts = load_prompts()[: request.variety_prompts]
    _say(status, f"  generating {request.variety_tokens} tokens for each of {len(prompts)} prompts")
    answers, tokens, seconds = generate_answers(
        path, log, threads=request.n_threads, max_tokens=request.variety_tokens, prompts=prompts
    )
    generation = count_markers(answers, Lexicon.load(), request.variety_tokens, tokens, seconds)
    return with_generation(pairs, generation)


def variety_only(
    path: Path, request: LadderRequest, log: LlamaLogSink, status: TextIO | None = None
) -> Variety:
    """``--only variety``: the pairs and the generation check on any GGUF, nothing else."""
    if not path.exists():
        raise SourceError(f"model not found: {path}")
    try:
        inspect(path)
    except AmaliaError as exc:
        raise SourceError(str(exc)) from exc
    _say(status, f"scoring the pt-PT / pt-BR pairs with {path.name}")
    with open_for_logits(path, max(request.n_ctx, PAIR_CTX), request.n_threads, log) as llm:
        pairs = score_pairs(llm, _chosen_pairs(request))
    return _generation(path, pairs, request, log, status) or pairs


def run(p: Plan, log: LlamaLogSink, status: TextIO | None = None) -> Report:
    """Quantize, evaluate and report; returns the report that was written."""
    request = p.request
    imatrix: Imatrix | None = None
    if p.calibration is not None and request.imatrix_text is not None:
        _say(status, f"computing the importance matrix from {request.imatrix_text.name}")
        imatrix = compute_imatrix(
            request.source,
            p.calibration,
            log,
            text_name=request.imatrix_text.name,
            n_ctx=request.n_ctx,
            threads=request.n_threads,
        )
    seconds = _quantize_all(p, log, status, CImatrix(imatrix) if imatrix else None)
    scratch = Path(tempfile.mkdtemp(prefix=".quant-scratch-", dir=request.outdir))
    try:
        rungs: list[Rung] = []
        _say(status, f"evaluating {request.source.name} (reference)")
        with open_for_logits(request.source, request.n_ctx, request.n_threads, log) as llm:
            tokens, prefix = tokenize_text(llm, p.text)
            windows = perplexity_chunks(prefix + tokens, prefix, request.n_ctx)
            n_vocab = llm.n_vocab()
            reference = Reference(llm, windows, scratch)
            source_pairs = _pairs(llm, request, status)
        try:
            source_eval = reference.compare(None)
            rungs.append(
                _rung(
                    "source",
                    request.source,
                    source_eval,
                    _speed(request.source, request, log),
                    None,
                    with_hash=False,
                    variety=_generation(request.source, source_pairs, request, log, status),
                )
            )
            for qtype in request.types:
                path = p.outputs[qtype.name]
                _say(status, f"evaluating {path.name}")
                with open_for_logits(path, request.n_ctx, request.n_threads, log) as llm:
                    if llm.n_vocab() != n_vocab:
                        raise EvaluationError(f"{path.name} has a different vocabulary size")
                    evaluation = reference.compare(llm)
                    pairs = _pairs(llm, request, status)
                speed = _speed(path, request, log)
                variety = _generation(path, pairs, request, log, status)
                rungs.append(
                    _rung(qtype.name, path, evaluation, speed, seconds[qtype.name], True, variety)
                )
        finally:
            reference.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    source = p.source
    report = Report(
        model_name=request.model_name
        or str(source.get("general.name") or output_stem(request.source)),
        source_file=request.source.name,
        source_type=p.source_type,
        parameters=source.parameter_count,
        eval_text=request.eval_text.name,
        eval_sha256=sha256_file(request.eval_text),
        n_ctx=request.n_ctx,
        n_windows=len(windows.windows),
        threads=request.n_threads,
        llama_cpp_version=llama_cpp.__version__,
        rungs=rungs,
        base_model=request.base_model or _base_model(source),
        imatrix=(
            f"{imatrix.text_name} ({imatrix.n_tokens:,} tokens, {len(imatrix.values)} tensors)"
            if imatrix
            else None
        ),
        license=_license(source),
        verification=read_record(request.source),
    )
    write_all(report, request.outdir)
    return report


def _base_model(model: ModelFile) -> str | None:
    """``general.base_model.0.repo_url`` as a Hub id, when the converter recorded one."""
    url = str(model.get("general.base_model.0.repo_url") or "")
    prefix = "https://huggingface.co/"
    return url.removeprefix(prefix) if url.startswith(prefix) else None


def _license(model: ModelFile) -> str | None:
    value = model.get("general.license")
    return str(value) if value else None


def cleanup_partials(p: Plan) -> None:
    """After a failure: no temporary output may survive (complete rungs are kept)."""
    for path in p.outputs.values():
        partial_name(path).unlink(missing_ok=True)
    for leftover in p.request.outdir.glob(".quant-scratch-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    for name in REPORT_FILES:
        for tmp in p.request.outdir.glob(f".{name}.*.partial"):
            tmp.unlink(missing_ok=True)


def rmdir_if_created(outdir: Path, existed: bool) -> None:
    """Remove an output directory we created ourselves if the run left it empty."""
    if not existed:
        with contextlib.suppress(OSError):
            os.rmdir(outdir)
