"""The log-probability of each answer token, and of its likeliest alternatives (OpenAI's
``logprobs``), read from the logits llama.cpp computed for that step.

They are the model's own distribution (a log-softmax of the raw logits), before the
sampler's biases, penalties, grammar and temperature, as OpenAI's are: they say how
sure the model was, not how the draw was made.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import TYPE_CHECKING

import llama_cpp
import numpy as np

if TYPE_CHECKING:
    from amalia_local.engine.model import Engine


@dataclass(frozen=True)
class TokenLogprob:
    piece: bytes  # what the token writes
    logprob: float
    top: tuple[tuple[bytes, float], ...] = ()  # the likeliest tokens, best first


def token_logprob(
    engine: Engine, ctx: ctypes.c_void_p, index: int, token: int, top: int
) -> TokenLogprob:
    """The entry of ``token``, sampled from output ``index`` of the last decode."""
    n_vocab = llama_cpp.llama_vocab_n_tokens(engine._vocab)
    pointer = llama_cpp.llama_get_logits_ith(ctx, index)
    logits = np.ctypeslib.as_array(pointer, shape=(n_vocab,)).astype(np.float64)
    peak = float(logits.max())
    log_total = peak + float(np.log(np.exp(logits - peak).sum()))
    best: tuple[tuple[bytes, float], ...] = ()
    if top > 0:
        count = min(top, n_vocab)
        candidates = np.argpartition(-logits, count - 1)[:count]
        ordered = candidates[np.argsort(-logits[candidates], kind="stable")]
        best = tuple((engine.piece(int(t)), float(logits[t]) - log_total) for t in ordered)
    return TokenLogprob(engine.piece(token), float(logits[token]) - log_total, best)
