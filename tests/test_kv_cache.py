"""The KV cache itself: its RAM per type as llama.cpp allocates it, dropping old turns by
cutting them out of the cache instead of evaluating the rest again, and when a prefix
another sequence holds is copied instead."""

from __future__ import annotations

import re

import numpy as np
import pytest

from amalia_local.engine import ChatSession, SamplingOptions
from amalia_local.engine.reuse import MIN_COPY_GAIN, Donor, Reuse, find_gap, prepare
from amalia_local.fit import model_facts
from amalia_local.fit.memory import kv_cache_bytes
from amalia_local.kv_type import KvType

KV_BUFFER = re.compile(r"KV buffer size =\s+([\d.]+) MiB")


@pytest.mark.smollm
@pytest.mark.parametrize("kv_type", list(KvType))
def test_kv_ram_llama_cpp_allocates_matches_our_estimate(smollm, open_engine, llama_log, kv_type):
    engine = open_engine(smollm, n_ctx=2048, kv_type=kv_type)
    llama_log.stream.flush()
    sizes = [float(m) for m in KV_BUFFER.findall(llama_log.log_file.read_text(encoding="utf-8"))]
    assert sizes, "llama.cpp logged no KV buffer size"
    reported = sizes[-1] * 2**20
    estimate = kv_cache_bytes(model_facts(engine.model_file), engine.n_ctx, kv_type)
    assert abs(reported - estimate) <= 0.05 * estimate, (reported, estimate)


def test_dropped_turns_are_cut_from_the_cache_not_evaluated_again(tiny_model, open_engine):
    engine = open_engine(tiny_model, n_ctx=512)
    session = ChatSession(engine, system_prompt="Sistema curto.")
    opts = SamplingOptions(temperature=0, max_tokens=16)
    replies = []
    for letter in "abcdefghijkl":
        question = f"pergunta {letter} " * 3  # ~33 single-character tokens, each turn its own
        reply = session.send(question, opts)
        reply.consume()
        replies.append(reply)
    shifted = [r for r in replies if r.stats.dropped_messages]
    assert shifted, "the conversation never outgrew the context"
    for reply in shifted:
        stats = reply.stats
        assert stats.cache_tokens_cut > 0
        # What stayed after the dropped turns was kept, not evaluated again: llama.cpp
        # decoded only the new question with its headers, plus the "<|im_end|>\n" that
        # closes the previous answer (sampled, so never evaluated).
        new_turn = engine.tokenize(
            engine.template.render(session.visible_messages()[-2:-1]), add_special=False
        )
        assert stats.prompt_tokens_cached > len(engine.tokenize("Sistema curto."))
        assert stats.prompt_tokens_evaluated == stats.prompt_tokens - stats.prompt_tokens_cached
        assert stats.prompt_tokens_evaluated == len(new_turn) + 2


@pytest.mark.smollm
def test_answer_after_a_context_shift_is_the_one_a_fresh_reading_gives(smollm, open_engine):
    """The cache after the shift stands for the kept history: the question, whose answer
    needs that history, gets the same answer as from a new engine that reads the kept
    turns from scratch (a cache left unshifted or cut in the wrong place would not)."""
    engine = open_engine(smollm, n_ctx=512, n_threads=2)
    system = "You are a helpful assistant."
    session = ChatSession(engine, system_prompt=system)
    short = SamplingOptions(temperature=0, max_tokens=6)
    filler = (
        "Here is note number {n} for my diary: today I walked along the river, looked at "
        "the boats, bought some bread and fruit, and went home before the rain. Say ok."
    )
    for n in range(1, 30):
        reply = session.send(filler.format(n=n), short)
        reply.consume()
        if reply.stats.dropped_messages:
            break
    assert reply.stats.cache_tokens_cut > 0, "the conversation never outgrew the context"
    kept = list(session.messages[session.window_start :])
    question = "What number did my last diary note have? Answer with the number."
    answer_opts = SamplingOptions(temperature=0, max_tokens=12)
    final = session.send(question, answer_opts)
    answer = final.consume()
    assert final.stats.prompt_tokens_evaluated < final.stats.prompt_tokens // 2

    fresh = ChatSession(open_engine(smollm, n_ctx=512, n_threads=2), system, history=kept)
    expected = fresh.send(question, answer_opts)
    assert answer == expected.consume()
    # the new engine read the kept turns itself
    assert expected.stats.prompt_tokens_evaluated > final.stats.prompt_tokens_evaluated


def test_gap_is_found_only_where_the_prompt_really_resumes():
    system, old, kept = [1, 2, 3], list(range(100, 140)), list(range(200, 290))
    cached = np.asarray(system + old + kept, dtype=np.int32)
    # Older turns dropped: the prompt continues with everything cached after them.
    gap = find_gap(cached, system + kept + [7, 8], len(system))
    assert (gap.start, gap.end, gap.run) == (3, 43, 90)
    # An edited last question that happens to repeat a few cached tokens: no gap.
    assert find_gap(cached, [*system, *old[:10], *kept[5:15], 9, 9], len(system) + 10) is None
    # A long run is trusted even when the cache goes on past it.
    assert find_gap(cached, system + kept[:70] + [5], len(system)).run == 70


class TokenCells:
    """A cache that is only its tokens: what :func:`prepare` decides from, without a model
    (the copy itself, through llama.cpp, is tested in tests/server/test_reuse.py)."""

    can_shift = True

    def __init__(self, tokens: list[int]) -> None:
        self.tokens = list(tokens)

    def cached_array(self) -> np.ndarray:
        return np.asarray(self.tokens, dtype=np.int32)

    def common_prefix(self, tokens) -> int:
        n = 0
        while n < min(len(tokens), len(self.tokens)) and tokens[n] == self.tokens[n]:
            n += 1
        return n

    def keep(self, n: int) -> None:
        del self.tokens[n:]

    def cut(self, start: int, end: int) -> None:
        del self.tokens[start:end]

    def restore(self, data, tokens) -> bool:
        return False


def test_a_longer_prefix_in_another_sequence_is_copied_unless_it_saves_little():
    prompt = list(range(1000, 1300))
    # This sequence holds only the system prompt (and another conversation after it);
    # another holds 200 tokens of the prompt: they are copied.
    kv = TokenCells([*prompt[:20], 5, 5])

    def copy() -> bool:
        kv.tokens = prompt[:200]
        return True

    assert prepare(kv, None, prompt, 4096, Donor(200, copy)) == Reuse(cached=200, copied=200)
    assert kv.tokens == prompt[:200]

    def not_worth_asking() -> bool:
        raise AssertionError("a copy saving fewer than MIN_COPY_GAIN tokens was made")

    kv = TokenCells(prompt[:150])
    donor = Donor(150 + MIN_COPY_GAIN - 1, not_worth_asking)
    assert prepare(kv, None, prompt, 4096, donor) == Reuse(cached=150)


def test_a_copy_that_fails_leaves_the_whole_prompt_to_evaluate():
    prompt = list(range(1000, 1300))
    kv = TokenCells(prompt[:20])

    def failing() -> bool:
        kv.tokens = []  # as SeqMemory.copy_from leaves its cells when the copy is wrong
        return False

    assert prepare(kv, None, prompt, 4096, Donor(200, failing)) == Reuse(cached=0)
    assert kv.tokens == []
