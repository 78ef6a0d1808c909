"""What a rung costs: perplexity, KL divergence and top-1 agreement against the source.

The held-out text is tokenized once with the source's vocabulary (every rung shares it)
and cut the way llama.cpp's ``llama-perplexity`` cuts it (:func:`perplexity_chunks`):
BOS and the text form one token stream, split into chunks of exactly ``n_ctx`` tokens
whose first token is replaced by BOS; each chunk starts from an empty cache, and only
the second half of each chunk is scored, so every scored token has at least
``n_ctx / 2`` tokens of context. Our perplexity is therefore the figure
``llama-perplexity -c n_ctx`` prints for the same text and model. At every scored
position the source's next-token distribution is the reference:

* perplexity: exp of the mean negative log-likelihood of the real next token;
* KL(source || rung): how much probability mass the rung moves, per position, summed
  over the vocabulary; we report its mean and 99th percentile (the rare positions where
  a quantized model goes wrong are what users notice);
* top-1 agreement: how often the rung's most likely token is the source's.

The source's logits are kept on disk (a float32 memory map in a scratch directory), so
memory stays bounded with a 128k vocabulary; all arithmetic is float64, in row blocks.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import llama_cpp
import numpy as np

from amalia_local.engine.llama_log import LlamaLogSink
from amalia_local.engine.llama_private import logits
from amalia_local.engine.tokenizer import for_llama, kv_overrides, rule_from_metadata
from amalia_local.errors import ModelFileError
from amalia_local.i18n import Translator
from amalia_local.kv_type import KvType
from amalia_local.model_file import inspect
from quant.errors import EvaluationError

# Rows of the vocabulary-wide arrays processed at once: 64 x 128k x 8 bytes = 64 MiB each.
_ROW_BLOCK = 64
# Fewer scored tokens than this gives figures too noisy to print.
MIN_SCORED_TOKENS = 16


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax in float64 (stable: the row maximum is subtracted first)."""
    x = np.asarray(logits, dtype=np.float64)
    shifted = x - x.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


@dataclass(frozen=True)
class PositionScores:
    """Per-position figures for one model on the evaluation text (all float64)."""

    nll: np.ndarray  # -log p(real next token)
    kl: np.ndarray  # KL(source || this model)
    top1: np.ndarray  # bool: same argmax as the source


def score_block(src_logits: np.ndarray, logits: np.ndarray, targets: np.ndarray) -> PositionScores:
    """Figures for a block of positions; ``src_logits`` is the reference distribution."""
    src_lp = log_softmax(src_logits)
    lp = log_softmax(logits)
    kl = np.einsum("ij,ij->i", np.exp(src_lp), src_lp - lp)
    # Rounding can leave a hair below zero where the two distributions are identical.
    kl = np.maximum(kl, 0.0)
    rows = np.arange(len(targets))
    nll = -lp[rows, targets]
    top1 = np.argmax(lp, axis=-1) == np.argmax(src_lp, axis=-1)
    return PositionScores(nll=nll, kl=kl, top1=top1)


@dataclass(frozen=True)
class Summary:
    """Aggregates over a set of positions (a whole text, or one half of it)."""

    n_tokens: int
    perplexity: float
    kl_mean: float
    kl_p99: float
    top1: float

    @classmethod
    def of(cls, scores: PositionScores) -> Summary:
        return cls(
            n_tokens=len(scores.nll),
            perplexity=math.exp(float(np.mean(scores.nll))),
            kl_mean=float(np.mean(scores.kl)),
            kl_p99=float(np.percentile(scores.kl, 99)),
            top1=float(np.mean(scores.top1)),
        )


@dataclass(frozen=True)
class Evaluation:
    """One model's figures on the whole text and on each half (to show their stability)."""

    whole: Summary
    halves: tuple[Summary, Summary]


def summarise(scores: PositionScores, split: int) -> Evaluation:
    """``split`` is the first position of the second half (a window boundary)."""

    def part(sl: slice) -> PositionScores:
        return PositionScores(scores.nll[sl], scores.kl[sl], scores.top1[sl])

    return Evaluation(
        whole=Summary.of(scores),
        halves=(Summary.of(part(slice(0, split))), Summary.of(part(slice(split, None)))),
    )


@dataclass(frozen=True)
class Windows:
    """The evaluation text as model inputs: windows of tokens, each starting with BOS."""

    windows: tuple[tuple[int, ...], ...]
    n_ctx: int
    # Index in each window of the first token that is scored (predicted from the ones
    # before it): 1 scores every position, n_ctx // 2 + 1 is llama-perplexity's half.
    score_from: int = 1

    def scored(self, window: tuple[int, ...]) -> int:
        return max(len(window) - self.score_from, 0)

    @property
    def n_scored(self) -> int:
        return sum(self.scored(w) for w in self.windows)

    @property
    def half_split(self) -> int:
        """First scored position of the second half of the windows."""
        first_half = self.windows[: (len(self.windows) + 1) // 2]
        return sum(self.scored(w) for w in first_half)


def make_windows(tokens: list[int], prefix: list[int], n_ctx: int) -> Windows:
    """Cut ``tokens`` into windows of at most ``n_ctx`` tokens, ``prefix`` (BOS) first.

    A short remainder is kept only if it has enough tokens to score; two windows at
    least are needed so the two halves can be compared.
    """
    body = n_ctx - len(prefix)
    if body < 8:
        raise EvaluationError(f"context {n_ctx} is too small for evaluation windows")
    windows = []
    for start in range(0, len(tokens), body):
        piece = tokens[start : start + body]
        if start > 0 and len(piece) < MIN_SCORED_TOKENS:
            break
        windows.append(tuple(prefix + piece))
    if len(windows) == 1 and len(windows[0]) - 1 >= 2 * MIN_SCORED_TOKENS:
        # Short text: two half windows rather than one, so the halves can be compared.
        half = (len(tokens) + 1) // 2
        windows = [tuple(prefix + tokens[:half]), tuple(prefix + tokens[half:])]
    result = Windows(tuple(windows), n_ctx)
    if len(windows) < 2 or result.n_scored < 2 * MIN_SCORED_TOKENS:
        raise EvaluationError(
            f"the evaluation text is too short: {len(tokens)} tokens, need at least "
            f"{2 * MIN_SCORED_TOKENS + 1}"
        )
    return result


def perplexity_chunks(stream: list[int], bos: list[int], n_ctx: int) -> Windows:
    """``stream`` (BOS + text tokens) cut as llama.cpp's ``llama-perplexity`` cuts it.

    Chunks of exactly ``n_ctx`` tokens, a shorter tail dropped; when the model uses a BOS
    token, the first token of every chunk is replaced by it (the first chunk already
    starts with it). Scored: the tokens after position ``n_ctx // 2``, i.e.
    ``n_ctx - n_ctx // 2 - 1`` per chunk. At least two chunks, as llama.cpp requires.
    """
    if n_ctx < 32:
        raise EvaluationError(f"context {n_ctx} is too small for evaluation windows")
    n_chunks = len(stream) // n_ctx
    if n_chunks < 2:
        raise EvaluationError(
            f"the evaluation text is too short: {len(stream)} tokens, llama-perplexity's "
            f"chunking needs at least {2 * n_ctx} (two chunks of --ctx {n_ctx})"
        )
    chunks = []
    for i in range(n_chunks):
        chunk = list(stream[i * n_ctx : (i + 1) * n_ctx])
        if bos:
            chunk[0] = bos[0]
        chunks.append(tuple(chunk))
    return Windows(tuple(chunks), n_ctx, score_from=n_ctx // 2 + 1)


@contextlib.contextmanager
def open_for_logits(
    path: Path, n_ctx: int, threads: int, log: LlamaLogSink, kv_type: KvType = KvType.F16
) -> Iterator[llama_cpp.Llama]:
    """A llama.cpp model that keeps logits for every position (``logits_all``).

    Loaded like the engine loads it, so :func:`tokenize_text` gives the engine's ids.

        ``kv_type``: the KV cache's type, for measuring what a quantized cache costs.
    """
    log.clear_errors()
    try:
        rule = rule_from_metadata(inspect(path).metadata)
    except ModelFileError as exc:
        raise EvaluationError(Translator("en").t(exc.key, **exc.params)) from exc
    with contextlib.redirect_stderr(log.stream), contextlib.redirect_stdout(log.stream):
        try:
            llm = llama_cpp.Llama(
                model_path=str(path),
                kv_overrides=kv_overrides(rule),
                n_ctx=n_ctx,
                n_batch=n_ctx,
                n_ubatch=n_ctx,
                n_threads=threads,
                n_threads_batch=threads,
                n_gpu_layers=0,
                logits_all=True,
                type_k=int(kv_type.ggml_type),
                type_v=int(kv_type.ggml_type),
                flash_attn=kv_type.needs_flash_attention,
                verbose=True,  # see Engine: the C log already goes to our sink
            )
        except (ValueError, RuntimeError, OSError) as exc:
            reason = log.failure_reason() or str(exc)
            raise EvaluationError(f"llama.cpp could not load {path.name}: {reason}") from exc
    llm.verbose = False
    try:
        yield llm
    finally:
        with contextlib.redirect_stderr(log.stream):
            llm.close()


def tokenize_text(llm: llama_cpp.Llama, text: str) -> tuple[list[int], list[int]]:
    """The text's tokens (no specials parsed) and the prefix the model wants (BOS or none),
    through the engine's exact tokenizer (transformers' ids, not plain llama.cpp's)."""
    tokenizer = for_llama(llm)
    tokens = tokenizer.tokenize(text, add_bos=False, special=False)
    prefix = tokenizer.tokenize("", add_bos=True, special=False)
    return tokens, prefix


def window_logits(llm: llama_cpp.Llama, window: tuple[int, ...]) -> np.ndarray:
    """Logits predicting each next token of ``window`` (rows 0..n-2), from an empty cache."""
    llm.reset()
    llm.eval(list(window))
    return np.asarray(logits(llm)[: len(window) - 1], dtype=np.float32)


def _targets(windows: Windows) -> np.ndarray:
    start = windows.score_from
    return np.concatenate([np.asarray(w[start:], dtype=np.int64) for w in windows.windows])


def scored_logits(llm: llama_cpp.Llama, windows: Windows, window: tuple[int, ...]) -> np.ndarray:
    """Logits predicting the scored tokens of ``window`` (see :attr:`Windows.score_from`)."""
    return window_logits(llm, window)[windows.score_from - 1 :]


class Reference:
    """The source's logits for every scored position, on disk in ``scratch``."""

    def __init__(self, llm: llama_cpp.Llama, windows: Windows, scratch: Path) -> None:
        self.windows = windows
        self.targets = _targets(windows)
        n_vocab = llm.n_vocab()
        self._path = scratch / "source-logits.f32"
        self.logits = np.lib.format.open_memmap(
            self._path, mode="w+", dtype=np.float32, shape=(windows.n_scored, n_vocab)
        )
        row = 0
        for window in windows.windows:
            block = scored_logits(llm, windows, window)
            self.logits[row : row + len(block)] = block
            row += len(block)
        self.logits.flush()

    def compare(self, llm: llama_cpp.Llama | None) -> Evaluation:
        """Score a model (``None``: the source against itself) window by window."""
        parts: list[PositionScores] = []
        row = 0
        for window in self.windows.windows:
            n = self.windows.scored(window)
            own = scored_logits(llm, self.windows, window) if llm is not None else None
            for b in range(0, n, _ROW_BLOCK):
                sl = slice(row + b, row + min(b + _ROW_BLOCK, n))
                src = self.logits[sl]
                cand = own[b : b + _ROW_BLOCK] if own is not None else src
                parts.append(score_block(src, cand, self.targets[sl]))
            row += n
        scores = PositionScores(
            nll=np.concatenate([p.nll for p in parts]),
            kl=np.concatenate([p.kl for p in parts]),
            top1=np.concatenate([p.top1 for p in parts]),
        )
        return summarise(scores, self.windows.half_split)

    def close(self) -> None:
        del self.logits
        self._path.unlink(missing_ok=True)
