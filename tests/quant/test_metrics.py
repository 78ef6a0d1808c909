"""Perplexity, KL divergence and top-1 agreement on cases small enough to do by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from quant.errors import EvaluationError
from quant.evaluate import (
    PositionScores,
    Summary,
    log_softmax,
    make_windows,
    perplexity_chunks,
    score_block,
    summarise,
)


def test_two_token_case_by_hand() -> None:
    # source: p = (1/4, 3/4); candidate: q = (1/2, 1/2)
    src = np.array([[0.0, math.log(3.0)]], dtype=np.float32)
    cand = np.array([[5.0, 5.0]], dtype=np.float32)  # a shift changes nothing
    scores = score_block(src, cand, np.array([1]))
    kl = 0.25 * math.log(0.25 / 0.5) + 0.75 * math.log(0.75 / 0.5)
    assert scores.kl[0] == pytest.approx(kl, rel=1e-6)
    assert scores.nll[0] == pytest.approx(math.log(2.0), rel=1e-12)
    assert not scores.top1[0]  # the source prefers token 1, the candidate ties at token 0


def test_source_against_itself_is_zero_kl_and_full_agreement() -> None:
    rng = np.random.default_rng(3)
    logits = (rng.standard_normal((50, 1000)) * 4).astype(np.float32)
    targets = rng.integers(0, 1000, 50)
    scores = score_block(logits, logits, targets)
    assert np.all(scores.kl == 0.0)
    assert scores.top1.all()


def test_kl_is_positive_and_large_logits_stay_finite() -> None:
    rng = np.random.default_rng(4)
    src = (rng.standard_normal((20, 5000)) * 30).astype(np.float32)  # peaked distributions
    cand = src + rng.standard_normal(src.shape).astype(np.float32)
    scores = score_block(src, cand, rng.integers(0, 5000, 20))
    assert np.all(np.isfinite(scores.kl)) and np.all(scores.kl > 0)
    # same value from the definition, computed with a different formula
    p = np.exp(log_softmax(src))
    ref = (p * (np.log(p + 1e-300) - log_softmax(cand))).sum(axis=1)
    np.testing.assert_allclose(scores.kl, ref, rtol=1e-6, atol=1e-9)


def test_perplexity_p99_and_halves() -> None:
    nll = np.array([1.0, 2.0, 3.0, 4.0])
    kl = np.arange(100, dtype=np.float64)
    scores = PositionScores(nll=np.resize(nll, 100), kl=kl, top1=np.arange(100) % 4 != 0)
    ev = summarise(scores, split=40)
    assert ev.whole.perplexity == pytest.approx(math.exp(2.5))
    assert ev.whole.kl_p99 == pytest.approx(np.percentile(kl, 99))
    assert ev.whole.top1 == pytest.approx(0.75)
    assert ev.halves[0].n_tokens == 40 and ev.halves[1].n_tokens == 60
    assert ev.halves[0].kl_mean == pytest.approx(19.5)
    assert Summary.of(scores) == ev.whole


def test_windows_start_with_bos_and_cover_the_text() -> None:
    tokens = list(range(10, 310))
    w = make_windows(tokens, [1], n_ctx=101)
    assert [len(x) for x in w.windows] == [101, 101, 101]
    assert all(x[0] == 1 for x in w.windows)
    assert [t for x in w.windows for t in x[1:]] == tokens
    assert w.n_scored == 300 and w.half_split == 200


def test_short_text_is_split_in_two_and_tiny_text_refused() -> None:
    w = make_windows(list(range(100)), [1], n_ctx=512)
    assert len(w.windows) == 2 and w.n_scored == 100
    with pytest.raises(EvaluationError, match="too short"):
        make_windows(list(range(20)), [1], n_ctx=512)


def test_chunks_follow_llama_perplexity() -> None:
    """BOS + text as one stream, whole chunks only, first token of each replaced by BOS,
    scored: the tokens after the middle of each chunk."""
    stream = [1, *range(10, 339)]  # 330 tokens: three chunks of 100, 30 dropped
    w = perplexity_chunks(stream, [1], n_ctx=100)
    assert [len(x) for x in w.windows] == [100, 100, 100]
    assert [x[0] for x in w.windows] == [1, 1, 1]
    assert [list(x[1:]) for x in w.windows] == [
        stream[i * 100 + 1 : (i + 1) * 100] for i in range(3)
    ]
    assert w.score_from == 51 and w.n_scored == 3 * 49  # n_ctx - n_ctx/2 - 1 per chunk
    assert w.half_split == 2 * 49
    without_bos = perplexity_chunks(list(range(200)), [], n_ctx=100)
    assert without_bos.windows[1][0] == 100  # nothing replaced when the model has no BOS
    with pytest.raises(EvaluationError, match="too short"):
        perplexity_chunks(list(range(199)), [1], n_ctx=100)
