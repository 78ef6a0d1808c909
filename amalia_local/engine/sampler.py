"""How the next token is chosen: one llama.cpp sampler chain for ``run``, the chat and ``serve``.

``run`` and the chat decode one conversation (engine/model.py), ``serve`` many at once
(engine/batch.py); both build their chain here, so the same settings and seed choose
the same tokens whichever command asked. The chain follows llama.cpp's usual order:
logit biases, penalties, grammar, then greedy, or top-k, top-p, min-p, temperature and
a seeded draw.
"""

from __future__ import annotations

import ctypes

import llama_cpp

from amalia_local.engine.options import SamplingOptions

# Tokens the penalties look back over (llama-cpp-python's default too).
PENALTY_LAST_N = 64


def sampler_chain(
    sampling: SamplingOptions,
    vocab: int,
    *,
    grammar: str | None = None,
    frequency_penalty: float = 0.0,
    presence_penalty: float = 0.0,
    logit_bias: tuple[tuple[int, float], ...] = (),
) -> ctypes.c_void_p:
    """A new chain; the caller frees it with ``llama_cpp.llama_sampler_free``.

    ``grammar`` is GBNF (e.g. from a JSON schema); ValueError if llama.cpp refuses it.
    Each ``llama_sampler_sample`` on the chain also records the token it chose, so the
    penalties and the grammar follow the answer as it grows.
    """
    chain = llama_cpp.llama_sampler_chain_init(llama_cpp.llama_sampler_chain_default_params())
    add = llama_cpp.llama_sampler_chain_add
    if logit_bias:  # OpenAI's: added to the token's logit; -100 bans it, 100 all but forces it
        n_vocab = llama_cpp.llama_vocab_n_tokens(vocab)
        entries = [llama_cpp.llama_logit_bias(token, bias) for token, bias in logit_bias]
        biases = (llama_cpp.llama_logit_bias * len(entries))(*entries)
        add(chain, llama_cpp.llama_sampler_init_logit_bias(n_vocab, len(logit_bias), biases))
    if sampling.repeat_penalty != 1.0 or frequency_penalty or presence_penalty:
        # llama.cpp took n_vocab first again (ggml-org/llama.cpp#26520); the binding of
        # the pinned llama-cpp-python follows it, and the four-argument call of older
        # releases raised TypeError for every request with a penalty.
        n_vocab = llama_cpp.llama_vocab_n_tokens(vocab)
        add(
            chain,
            llama_cpp.llama_sampler_init_penalties(
                n_vocab, PENALTY_LAST_N, sampling.repeat_penalty, frequency_penalty,
                presence_penalty,
            ),
        )  # fmt: skip
    if grammar is not None:
        rules = llama_cpp.llama_sampler_init_grammar(vocab, grammar.encode("utf-8"), b"root")
        if not rules:
            llama_cpp.llama_sampler_free(chain)
            raise ValueError("invalid grammar")
        add(chain, rules)
    if sampling.temperature <= 0:
        add(chain, llama_cpp.llama_sampler_init_greedy())
    else:
        seed = sampling.seed if sampling.seed is not None else llama_cpp.LLAMA_DEFAULT_SEED
        add(chain, llama_cpp.llama_sampler_init_top_k(sampling.top_k))
        add(chain, llama_cpp.llama_sampler_init_top_p(sampling.top_p, 1))
        add(chain, llama_cpp.llama_sampler_init_min_p(sampling.min_p, 1))
        add(chain, llama_cpp.llama_sampler_init_temp(sampling.temperature))
        add(chain, llama_cpp.llama_sampler_init_dist(seed & 0xFFFFFFFF))
    return chain
