"""How European a model's Portuguese is: minimal pairs scored, answers counted.

Two measures, both cheap enough to run on every rung of the ladder:

* **Minimal pairs** (:mod:`quant.variety_data`): for each pair, the model's total
  log-probability of the pt-PT sentence and of the pt-BR sentence, each after the same
  short context. A pair is won by pt-PT when its log-probability is higher (a tie counts
  half), so swapping the two sides of every pair turns a share ``p`` into ``1 - p``. The
  mean log-odds (pt-PT minus pt-BR, in nats) says by how much.
* **Generation**: greedy answers to 40 pt-PT prompts, with the lexicon's pt-PT and pt-BR
  markers counted per 1,000 words.

Cost: the context and each pair's shared first tokens are evaluated once (the KV cache
keeps them; only the two different endings are evaluated separately), so a pair costs
about its two sentences' tokens minus the shared start.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import llama_cpp
import numpy as np

from amalia_local.engine import Engine, LoadOptions, Message, ReplyStats, SamplingOptions
from amalia_local.engine.llama_log import LlamaLogSink
from amalia_local.engine.llama_private import logits, truncate_cached
from amalia_local.engine.tokenizer import for_llama
from amalia_local.errors import AmaliaError
from quant.errors import EvaluationError
from quant.evaluate import log_softmax
from quant.variety_data import CATEGORIES, Lexicon, Pair, load_pairs, load_prompts, words

# Neutral between the varieties: both would write exactly this.
CONTEXT = "Frase em português:\n"
GEN_TOKENS = 128
# Room for the context and the longest sentence (ours are under 40 tokens).
PAIR_CTX = 256


@dataclass(frozen=True)
class PairScore:
    id: str
    category: str
    logp_pt: float  # total log-probability of the pt-PT sentence (nats)
    logp_br: float

    @property
    def log_odds(self) -> float:
        return self.logp_pt - self.logp_br


@dataclass(frozen=True)
class Share:
    """Pairs won by pt-PT (ties count half) and the mean log-odds, over some pairs."""

    n: int
    share_pt: float
    mean_log_odds: float
    wins_pt: float = 0.0  # pairs won by pt-PT, ties counting half (exact in binary)

    @classmethod
    def of(cls, scores: Sequence[PairScore]) -> Share:
        if not scores:
            return cls(0, math.nan, math.nan)
        wins = sum(1.0 if s.log_odds > 0 else 0.5 if s.log_odds == 0 else 0.0 for s in scores)
        n = len(scores)
        return cls(n, wins / n, sum(s.log_odds for s in scores) / n, wins)


@dataclass(frozen=True)
class Generation:
    """Markers in greedy answers to the pt-PT prompts."""

    prompts: int
    max_tokens: int
    tokens: int  # generated
    words: int
    pt_markers: int
    br_markers: int
    seconds: float

    @property
    def pt_per_1k(self) -> float:
        return 1000 * self.pt_markers / self.words if self.words else 0.0

    @property
    def br_per_1k(self) -> float:
        return 1000 * self.br_markers / self.words if self.words else 0.0


@dataclass(frozen=True)
class Variety:
    """One model's variety figures (the report adds the drift from the source)."""

    overall: Share
    categories: dict[str, Share]
    tokens_evaluated: int  # pair tokens llama.cpp processed
    seconds: float  # for the pairs
    generation: Generation | None = None
    pairs: list[PairScore] = field(default_factory=list, repr=False)


def summarise(scores: Sequence[PairScore]) -> tuple[Share, dict[str, Share]]:
    by_category = {c: Share.of([s for s in scores if s.category == c]) for c in CATEGORIES}
    return Share.of(scores), {c: s for c, s in by_category.items() if s.n}


class PairScorer:
    """Scores pairs with a model that keeps logits for every position (``logits_all``).

    Only :meth:`Llama.eval`, ``Llama.scores`` and ``Llama.n_tokens`` are used; moving
    ``n_tokens`` back is how llama-cpp-python itself reuses a cached prefix (its
    ``generate`` does the same), and ``eval`` drops the cache beyond it first.
    """

    def __init__(self, llm: llama_cpp.Llama, context: str = CONTEXT) -> None:
        self.llm = llm
        self.tokenizer = for_llama(llm)
        self.context = self.tokenizer.tokenize(context, add_bos=True, special=False)
        self.tokens_evaluated = 0
        llm.reset()
        self._eval(self.context)

    def _eval(self, tokens: list[int]) -> None:
        if tokens:
            self.llm.eval(tokens)
            self.tokens_evaluated += len(tokens)

    def _truncate(self, n: int) -> None:
        truncate_cached(self.llm, n)

    def _logp(self, tokens: list[int], start: int) -> float:
        """Sum of log p(token) for ``tokens[start:]``, from the rows now in ``scores``."""
        rows = np.asarray(logits(self.llm)[start - 1 : len(tokens) - 1], dtype=np.float64)
        lp = log_softmax(rows)
        return float(lp[np.arange(len(rows)), tokens[start:]].sum())

    def _sides(self, pair: Pair) -> tuple[list[int], list[int], int]:
        """Context + each sentence, and where they stop sharing tokens."""
        a = self.context + self.tokenizer.tokenize(pair.pt_PT, add_bos=False, special=False)
        b = self.context + self.tokenizer.tokenize(pair.pt_BR, add_bos=False, special=False)
        if max(len(a), len(b)) > self.llm.n_ctx():
            raise EvaluationError(f"pair {pair.id} is too long for the scoring context")
        common = len(self.context)  # shared tokens after it are evaluated once for both
        while common < min(len(a), len(b)) - 1 and a[common] == b[common]:
            common += 1
        return a, b, common

    def cost(self, pair: Pair) -> int:
        """Tokens :meth:`score` makes llama.cpp evaluate for ``pair`` (for projections)."""
        a, b, common = self._sides(pair)
        return max(len(a), len(b)) + min(len(a), len(b)) - common - len(self.context)

    def score(self, pair: Pair) -> PairScore:
        base = len(self.context)
        a, b, common = self._sides(pair)
        # The two sides in a fixed order (by token ids), so that a swapped pair runs the
        # very same computations and its scores are exactly the swapped ones. The first
        # side is evaluated whole after the context; the second only from where it differs.
        first, second = sorted((a, b))
        self._truncate(base)
        self._eval(first[base:])
        shared = self._logp(first[:common], base) if common > base else 0.0
        ends = {tuple(first): self._logp(first, common)}
        self._truncate(common)
        self._eval(second[common:])
        ends[tuple(second)] = self._logp(second, common)
        return PairScore(pair.id, pair.category, shared + ends[tuple(a)], shared + ends[tuple(b)])


def score_pairs(
    llm: llama_cpp.Llama,
    pairs: Sequence[Pair] | None = None,
    on_pair: Callable[[int, int], None] | None = None,
) -> Variety:
    """Every pair through ``llm`` (opened with ``logits_all``, ``n_ctx`` >= ``PAIR_CTX``)."""
    pairs = load_pairs() if pairs is None else pairs
    start = time.perf_counter()
    scorer = PairScorer(llm)
    scores = []
    for i, pair in enumerate(pairs, start=1):
        scores.append(scorer.score(pair))
        if on_pair is not None:
            on_pair(i, len(pairs))
    overall, categories = summarise(scores)
    return Variety(
        overall=overall,
        categories=categories,
        tokens_evaluated=scorer.tokens_evaluated,
        seconds=time.perf_counter() - start,
        pairs=scores,
    )


def generate_answers(
    path: Path,
    log: LlamaLogSink,
    *,
    threads: int,
    max_tokens: int = GEN_TOKENS,
    prompts: Sequence[str] | None = None,
) -> tuple[list[str], int, float]:
    """Greedy answers (no system prompt) to ``prompts``; also tokens generated and seconds."""
    prompts = load_prompts() if prompts is None else prompts
    answers: list[str] = []
    generated = 0
    start = time.perf_counter()
    try:
        with Engine.open(str(path), LoadOptions(n_ctx=512, n_threads=threads), log) as engine:
            greedy = SamplingOptions(temperature=0.0, max_tokens=max_tokens, seed=0)
            for prompt in prompts:
                text = engine.template.render([Message("user", prompt)])
                stats = ReplyStats()
                answers.append(
                    "".join(engine.generate(text, engine.chat_tokens(text), greedy, stats))
                )
                generated += stats.generated_tokens
    except AmaliaError as exc:
        raise EvaluationError(f"cannot generate with {path.name}: {exc}") from exc
    return answers, generated, time.perf_counter() - start


def count_markers(
    answers: Sequence[str], lexicon: Lexicon, max_tokens: int, tokens: int, seconds: float
) -> Generation:
    counts = {"pt_PT": 0, "pt_BR": 0}
    n_words = 0
    for answer in answers:
        n_words += len(words(answer))
        for variety, n in lexicon.count(answer).items():
            counts[variety] += n
    return Generation(
        prompts=len(answers),
        max_tokens=max_tokens,
        tokens=tokens,
        words=n_words,
        pt_markers=counts["pt_PT"],
        br_markers=counts["pt_BR"],
        seconds=seconds,
    )


def with_generation(variety: Variety, generation: Generation | None) -> Variety:
    return Variety(
        overall=variety.overall,
        categories=variety.categories,
        tokens_evaluated=variety.tokens_evaluated,
        seconds=variety.seconds,
        generation=generation,
        pairs=variety.pairs,
    )
