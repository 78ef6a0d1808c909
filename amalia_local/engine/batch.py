"""Several answers decoded together: one llama.cpp batch per step, one sequence per request.

This is llama.cpp server's slot model written over the C API: each request gets its own
sequence id in one shared KV cache and its own sampler; every step decodes one batch
holding the next token of each generating sequence plus, when room is left, a chunk of
a newly admitted prompt (continuous batching). Beyond ``n_parallel`` requests wait in a
bounded FIFO queue; a cancelled one leaves it at once.

No history is evaluated twice: each sequence id keeps the tokens in its cells after its
request ends, a new request goes to the free sequence holding its conversation (see
:func:`choose`), and engine/reuse.py (the same code as ``run``) keeps that prefix, cuts
out dropped turns, copies a longer prefix from another sequence, busy or not (the same
conversation with its last message edited, a second question about the same document),
or loads a saved state from disk. A sequence's cells are saved to the
StateCache before another conversation takes them over, and when the context closes
(idle unload, shutdown), so a conversation comes back without re-evaluation.

The decode loop survives its own failures: an exception or a failed ``llama_decode``
fails the requests concerned (a failing batch is retried one sequence at a time to find
them) and the loop goes on; only an error outside any request stops it, and then
:attr:`BatchGenerator.failure` says why and new requests are refused.

All llama.cpp calls happen on one thread (the decode loop); other threads only submit
requests and cancel them.
"""

from __future__ import annotations

import codecs
import ctypes
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import llama_cpp
import numpy as np

from amalia_local.engine.llama_private import raw_model
from amalia_local.engine.logprobs import TokenLogprob, token_logprob
from amalia_local.engine.model import Engine
from amalia_local.engine.options import SamplingOptions
from amalia_local.engine.reuse import Donor, prepare
from amalia_local.engine.sampler import sampler_chain
from amalia_local.engine.seq_memory import SeqMemory
from amalia_local.engine.state_cache import StateCache, model_fingerprint
from amalia_local.engine.stats import ReplyStats, StopReason
from amalia_local.engine.stops import StopMatcher
from amalia_local.errors import AmaliaError, ContextOverflowError, ModelLoadError, QueueFullError

log = logging.getLogger(__name__)

# Prompt tokens decoded per step; generating sequences always get their token first.
DEFAULT_BATCH = 512
# A sequence's cells are saved to disk before being reused for another conversation, or
# when the context closes, if they hold at least this many tokens not saved yet: below
# that, evaluating them again costs less than writing and reading the file.
MIN_SAVE_TOKENS = 64
# Steps in a row in which every sequence failed to decode, even alone: the context itself
# is broken (out of memory, a lost device), and the loop stops rather than fail every
# request that comes.
MAX_FAILED_STEPS = 3


def slot_states(engine: Engine, state_dir: Path | None, budget: int) -> StateCache | None:
    """Saved states of serve's sequences, under ``run``'s folder and budget but with an
    identity of their own (a sequence of this batch context, llama.cpp's default KV type)."""
    if state_dir is None or budget <= 0:
        return None
    identity = {
        "model": model_fingerprint(engine.model_file.path),
        "layout": "serve-sequence",
        "llama_cpp": llama_cpp.__version__,
    }
    return StateCache(state_dir, identity, budget, report=engine._log.note)


def choose(free: list[SeqMemory], tokens: list[int]) -> SeqMemory:
    """The free sequence a prompt should take.

    First the one holding this conversation (the prompt shares its whole last prompt: a
    next turn or a regenerated answer), the longest such; then an empty one; else the
    least recently used. Longest-prefix alone would let every new conversation take the
    cells of the last one that shares its system prompt, so two conversations with one
    system prompt would keep evicting each other. A prompt sharing only part of another
    sequence's last prompt (its last message edited, a second question about the same
    document) goes to an empty one too, and the shared part is copied there
    (BatchGenerator._donor): both conversations stay, neither is read again.
    """
    prefixes = {id(c): c.common_prefix(tokens) for c in free}
    own = [c for c in free if 0 < c.prompt_n <= prefixes[id(c)]]
    if own:
        return max(own, key=lambda c: (prefixes[id(c)], -c.last_used))
    empty = [c for c in free if c.n == 0]
    if empty:
        return empty[0]
    return min(free, key=lambda c: c.last_used)


def flash_attention(engine: Engine) -> int:
    """The batch context's flash attention: off, as ``run`` and llama-cpp-python's server
    decode, unless a quantized KV type needs it.

    Off, a prompt chunk after a long cached history decodes ~1.4-2x faster on the CPU,
    most of a later turn's time to first token (SmolLM2, 19 tokens after 2,040: 440
    against 735 ms with it; AMALIA's shape, ~27 tokens after 3,500: 9-15 s with it, 6 s
    in llama-cpp-python's server without), and fit/memory.py sizes the attention scores
    for it. An answer stays independent of what else is in its batch because
    :meth:`BatchGenerator._step` never mixes prompt chunks with other requests' tokens
    (tests/server/test_load.py).
    """
    if engine.options.flash_attention:
        return llama_cpp.LLAMA_FLASH_ATTN_TYPE_ENABLED
    return llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED


class GeneratorFailed(AmaliaError):
    """The decode loop stopped on an error of its own; the server cannot answer."""


@dataclass(frozen=True)
class SequenceRequest:
    """One prompt to answer, already tokenized, with how to sample and when to stop."""

    tokens: list[int]
    sampling: SamplingOptions = field(default_factory=SamplingOptions)
    grammar: str | None = None  # GBNF, e.g. from a JSON schema
    stop: tuple[str, ...] = ()
    frequency_penalty: float = 0.0
    presence_penalty: float = 0.0
    text: str | None = None  # the prompt as text, to pair the answer's tokens with
    logit_bias: tuple[tuple[int, float], ...] = ()  # (token id, bias added to its logit)
    logprobs: int | None = None  # alternatives per token in Sequence.logprobs; None: none


# What a sequence hands its consumer: text chunks, then ``None`` once it has ended.
Sink = Callable[[str | None], None]
# Test seam (fault injection): called on the decode thread after each llama_decode that
# succeeded, with the sequences in the batch; what it raises counts as a failed decode, a
# non-zero integer it returns stands for llama_decode's status. After, so that the failed
# batch's cells really are in the KV cache, as after a decode that failed part-way.
DecodeHook = Callable[[list["Sequence"]], int | None]


class Sequence:
    """A submitted request: its stats, its end, and :meth:`cancel` for any thread."""

    def __init__(
        self,
        request: SequenceRequest,
        sink: Sink,
        budget: int,
        on_cancel: Callable[[Sequence], None],
    ):
        self.request = request
        self.budget = budget
        self.stats = ReplyStats()
        self.error: str | None = None  # set when decoding it failed
        # One entry per answer token when the request asks (appended before its text
        # reaches the sink, so a consumer that has the text has its entries).
        self.logprobs: list[TokenLogprob] = []
        self._sink = sink
        self._on_cancel = on_cancel
        self._cancelled = False
        self._ended = False
        self.submitted = time.perf_counter()

    def cancel(self) -> None:
        """Stop now: leave the queue at once, or the batch at the next step."""
        if self._cancelled or self._ended:
            return
        self._cancelled = True
        self._on_cancel(self)

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def end(self) -> None:
        if not self._ended:
            self._ended = True
            self._sink(None)


@dataclass
class _Slot:
    """A sequence being decoded: its cells and its decoding state."""

    cache: SeqMemory
    sequence: Sequence
    sampler: ctypes.c_void_p
    pending: list[int]  # prompt tokens not yet decoded
    matcher: StopMatcher
    next_token: int | None = None  # sampled, to be decoded at the next step
    logprob: TokenLogprob | None = None  # of the token just sampled, when asked for
    generated: list[int] = field(default_factory=list)
    emitted: list[str] = field(default_factory=list)
    sampled: int = 0
    admitted: float = 0.0
    first: float = 0.0
    last: float = 0.0
    decoder: codecs.IncrementalDecoder = field(
        default_factory=lambda: codecs.getincrementaldecoder("utf-8")(errors="replace")
    )

    @property
    def seq_id(self) -> int:
        return self.cache.seq_id


@dataclass
class _Part:
    """What one slot puts into a batch: tokens, and whether the last one needs logits."""

    slot: _Slot
    tokens: list[int]
    output: bool


class BatchGenerator:
    """Owns a multi-sequence llama.cpp context over an :class:`Engine`'s loaded model.

    The engine provides the weights, vocabulary, template and stop tokens (the same code
    as ``run`` and the chat); this class provides a context with ``n_parallel``
    sequences of ``n_ctx_per_seq`` tokens each, and the thread that decodes them.
    """

    def __init__(
        self,
        engine: Engine,
        n_parallel: int,
        n_ctx_per_seq: int,
        *,
        max_queue: int = 64,
        n_batch: int = DEFAULT_BATCH,
        states: StateCache | None = None,
    ) -> None:
        self.engine = engine
        self.n_parallel = n_parallel
        self.n_ctx_per_seq = n_ctx_per_seq
        self.max_queue = max_queue
        self.n_batch = max(n_batch, n_parallel)
        self.states = states
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = n_ctx_per_seq * n_parallel
        params.n_batch = self.n_batch
        params.n_ubatch = self.n_batch
        params.n_seq_max = n_parallel
        params.n_threads = engine.options.n_threads
        params.n_threads_batch = engine.options.n_threads
        # One KV stream per sequence: each keeps its own n_ctx_per_seq cells, so one long
        # answer cannot starve the others, and a slot's history stays until reused.
        params.kv_unified = False
        params.flash_attn_type = flash_attention(engine)
        self._ctx = llama_cpp.llama_init_from_model(
            raw_model(engine._llm),  # same package: the engine's weights, shared read-only
            params,
        )
        if not self._ctx:
            reason = engine._log.failure_reason() or "llama_init_from_model failed"
            raise ModelLoadError(
                "error.model_load_failed", path=engine.model_file.path, reason=reason
            )
        self._vocab = engine._vocab
        # Whether a token ends the answer, asked of llama.cpp once per token id: each
        # ctypes call gives up the GIL, which the HTTP thread may then hold for a while.
        self._ends: dict[int, bool] = {}
        self._batch = llama_cpp.llama_batch_init(self.n_batch, 0, 1)
        self._caches = [SeqMemory(self._ctx, i, n_ctx_per_seq) for i in range(n_parallel)]
        self._cond = threading.Condition()
        self._waiting: deque[Sequence] = deque()
        self._slots: list[_Slot] = []
        self._free: list[SeqMemory] = list(self._caches)
        self._closing = False
        self._saved = False  # the states are saved once, by the first stop()
        self.failure: str | None = None  # why the loop stopped, if it stopped on an error
        self.after_decode: DecodeHook | None = None
        self._failed_steps = 0
        self.tokens_generated = 0  # answer tokens since start, all sequences (/health)
        self.prompt_tokens_evaluated = 0  # prompt tokens decoded since start (/health)
        self.prompt_tokens_cached = 0  # prompt tokens reused instead (/health)
        self._thread = threading.Thread(target=self._run, name="amalia-batch", daemon=True)
        self._thread.start()

    # --- what other threads call ----------------------------------------------------------
    def submit(self, request: SequenceRequest, sink: Sink) -> Sequence:
        """Queue a request; raises when its prompt leaves no room or the queue is full."""
        room = self.n_ctx_per_seq - len(request.tokens)
        if room <= 0 or not request.tokens:
            raise ContextOverflowError(
                "error.context_overflow", needed=len(request.tokens), n_ctx=self.n_ctx_per_seq
            )
        max_tokens = request.sampling.max_tokens
        budget = min(room, max_tokens) if max_tokens else room
        sequence = Sequence(request, sink, budget, self._cancel)
        with self._cond:
            if self.failure is not None:
                raise GeneratorFailed("error.generator_failed", reason=self.failure)
            if self._closing:
                raise QueueFullError("error.server_closing")
            busy = len(self._slots) >= self.n_parallel or self._waiting
            if busy and len(self._waiting) >= self.max_queue:
                raise QueueFullError("error.queue_full")
            self._waiting.append(sequence)
            self._cond.notify()
        return sequence

    def load(self) -> tuple[int, int]:
        """(sequences being decoded, requests waiting): for /health and idle checks."""
        return len(self._slots), len(self._waiting)

    def memos(self) -> list[tuple[str, list[int]]]:
        """(text, tokens) of the answers the sequences hold: the model's own tokens for
        text it produced, so re-tokenising a history cannot split it differently."""
        return [cache.memo for cache in self._caches if cache.memo is not None]

    def stop(self) -> None:
        """Cancel everything, stop the loop and save the sequences' states: after this nothing
        reads the context, so its memory may be released before :meth:`close` frees it."""
        with self._cond:
            self._closing = True
            waiting = list(self._waiting)
            self._waiting.clear()
            slots = list(self._slots)
            self._cond.notify()
        for sequence in waiting:
            sequence.stats.stop_reason = StopReason.CANCELLED
            sequence.end()
        for slot in slots:
            slot.sequence.cancel()
        self._thread.join()
        if self._ctx and self.failure is None and not self._saved:
            self._saved = True
            for cache in self._caches:
                self._save(cache)

    def close(self) -> None:
        """Stop (saving the states) if not stopped yet, then free the context."""
        self.stop()
        if self._ctx:
            llama_cpp.llama_batch_free(self._batch)
            llama_cpp.llama_free(self._ctx)
            self._ctx = None

    def _cancel(self, sequence: Sequence) -> None:
        """A cancelled request leaves the queue at once; a decoding one at the next step."""
        with self._cond:
            try:
                self._waiting.remove(sequence)
            except ValueError:
                self._cond.notify()
                return
        sequence.stats.stop_reason = StopReason.CANCELLED
        sequence.end()

    # --- the decode loop ------------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._loop()
        except BaseException as exc:  # a fault outside any one request: nothing can go on
            self.failure = f"{type(exc).__name__}: {exc}"
            log.error("decode loop stopped: %s", self.failure)
            with self._cond:
                waiting = list(self._waiting)
                self._waiting.clear()
            for sequence in waiting:
                sequence.error = "the decode loop stopped"
                sequence.end()
            for slot in list(self._slots):
                slot.sequence.error = "the decode loop stopped"
                slot.sequence.end()
            self._slots.clear()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._closing and not self._slots and not self._waiting:
                    self._cond.wait()
                if self._closing:
                    break
                admitted = self._take_waiting()
            for sequence, cache in admitted:
                try:
                    self._start(sequence, cache)
                except Exception as exc:  # e.g. a saved state that cannot be read
                    log.error("request failed before decoding: %s: %s", type(exc).__name__, exc)
                    cache.clear()
                    if cache not in self._free:
                        self._release(cache)
                    sequence.error = f"{type(exc).__name__}: {exc}"
                    sequence.end()
            for slot in [s for s in self._slots if s.sequence.cancelled]:
                self._finish(slot, StopReason.CANCELLED)
            if self._slots:
                self._step()
        for slot in list(self._slots):
            self._finish(slot, StopReason.CANCELLED)

    def _take_waiting(self) -> list[tuple[Sequence, SeqMemory]]:
        """Pair waiting requests with free sequences (lock held), see :func:`choose`."""
        taken = []
        while self._waiting and self._free:
            sequence = self._waiting.popleft()
            cache = choose(self._free, sequence.request.tokens)
            self._free.remove(cache)
            taken.append((sequence, cache))
        return taken

    def _start(self, sequence: Sequence, cache: SeqMemory) -> None:
        """Put as much of the prompt in the cells as can be had for free, then admit it."""
        tokens = sequence.request.tokens
        try:
            sampler = self._sampler(sequence.request)
        except ValueError as exc:
            sequence.error = str(exc)
            self._release(cache)
            sequence.end()
            return
        try:
            prefix = cache.common_prefix(tokens)
            if cache.n - prefix >= MIN_SAVE_TOKENS:
                self._save(cache)  # another conversation's history: keep it on disk first
            donor = self._donor(cache, tokens)
            reuse = prepare(cache, self.states, tokens, self.n_ctx_per_seq, donor)
        except BaseException:
            llama_cpp.llama_sampler_free(sampler)  # the slot that would have freed it is not made
            raise
        cached = min(reuse.cached, len(tokens) - 1)  # the last token gives the logits
        cache.keep(cached)
        cache.last_used = time.monotonic()
        cache.prompt_n = len(tokens)
        slot = _Slot(
            cache=cache,
            sequence=sequence,
            sampler=sampler,
            pending=list(tokens[cached:]),
            matcher=StopMatcher(sequence.request.stop),
            admitted=time.perf_counter(),
        )
        stats = sequence.stats
        stats.context_size = self.n_ctx_per_seq
        stats.prompt_tokens = len(tokens)
        stats.prompt_tokens_cached = cached
        stats.prompt_tokens_restored = min(reuse.restored, cached)
        stats.cache_tokens_cut = reuse.cut
        stats.prompt_tokens_evaluated = len(tokens) - cached
        stats.stop_reason = StopReason.LENGTH
        self.prompt_tokens_cached += cached
        self._slots.append(slot)
        if reuse.copied:
            self._decode_copied(slot)

    def _donor(self, cache: SeqMemory, tokens: list[int]) -> Donor | None:
        """The other sequence, free or busy, holding the longest prefix of ``tokens``."""
        source, shared = None, 0
        wanted = np.asarray(tokens, dtype=np.int32)  # converted once, not per sequence
        for other in self._caches:
            if other is not cache and other.n > shared:
                n = other.common_prefix(wanted)
                if n > shared:
                    source, shared = other, n
        shared = min(shared, len(tokens) - 1)  # the last token is decoded for its logits
        if source is None or shared <= 0:
            return None
        return Donor(shared, partial(cache.copy_from, source, shared))

    def _decode_copied(self, slot: _Slot) -> None:
        """Decode a slot's first chunk at once, alone: llama.cpp moves copied cells' data
        at the start of the next decode, and until then no snapshot, restore or other
        request's admission may touch them (see SeqMemory.copy_from)."""
        try:
            reason = self._decode([self._next_chunk(slot)])
        except Exception as exc:  # a sink that raised: this request's failure alone
            reason = f"{type(exc).__name__}: {exc}"
        if reason is not None:
            self._fail(slot, reason)

    def _save(self, cache: SeqMemory) -> None:
        """Keep a sequence's history on disk (StateCache) unless it is short or saved."""
        if self.states is None or cache.n - cache.saved_n < MIN_SAVE_TOKENS:
            return
        try:
            if self.states.save(cache.cached_array().tolist(), cache.snapshot()):
                cache.saved_n = cache.n
        except OSError as exc:  # a full disk must not cost anyone their answer
            log.warning("could not save a KV state: %s", exc)

    def _release(self, cache: SeqMemory) -> None:
        with self._cond:
            self._free.append(cache)

    def _sampler(self, request: SequenceRequest) -> ctypes.c_void_p:
        """A sampler chain of its own for each sequence, as llama-server's slots have."""
        return sampler_chain(
            request.sampling,
            self._vocab,
            grammar=request.grammar,
            frequency_penalty=request.frequency_penalty,
            presence_penalty=request.presence_penalty,
            logit_bias=request.logit_bias,
        )

    # --- one step -------------------------------------------------------------------------
    def _step(self) -> None:
        """Decode one step: a token for each generating slot, then one prompt chunk.

        Two batches, never one: without flash attention llama.cpp reads a sequence's
        tokens with one kernel when it has a single token in a batch (vec_dot) and another
        when it has several (llamafile's tinyBLAS), and the two sum in different orders.
        A prompt cut to fit beside other requests' tokens would be read, and answered,
        differently from the same prompt alone; so each prompt is cut in ``n_batch``
        pieces from its own start, whatever else runs, and decoded on its own.

        If a batch fails, each slot's part is decoded alone to find the ones that fail;
        those requests fail, the others go on.
        """
        groups = self._plan()
        if not groups:
            return
        parts = [part for group in groups for part in group]
        failing: list[_Slot] = []
        reason = None
        for group in groups:
            why = self._decode(group)
            if why is None:
                continue
            reason = why
            if len(group) == 1:
                failing.append(group[0].slot)
            else:
                failing += [part.slot for part in group if self._decode([part]) is not None]
        if reason is None:
            self._failed_steps = 0
            return
        self._failed_steps = self._failed_steps + 1 if len(failing) == len(parts) else 0
        stop = None
        if self._failed_steps >= MAX_FAILED_STEPS:
            stop = RuntimeError(f"{MAX_FAILED_STEPS} steps failed in a row ({reason})")
            # Known before the last requests are answered: a client told "500" that asks
            # /health next must hear that the server is down, not "ok".
            self.failure = f"{type(stop).__name__}: {stop}"
        for slot in failing:
            self._fail(slot, reason)
        if stop is not None:
            raise stop

    def _plan(self) -> list[list[_Part]]:
        """The step's batches: the generating slots' tokens, and the next ``n_batch``
        tokens of the first admitted prompt still being read (one chunk a step keeps
        the generating slots' pace, as one shared batch of ``n_batch`` did)."""
        groups: list[list[_Part]] = []
        tokens = [_Part(s, [s.next_token], True) for s in self._slots if s.next_token is not None]
        if tokens:
            groups.append(tokens)
        reading = next((s for s in self._slots if s.pending), None)
        if reading is not None:
            groups.append([self._next_chunk(reading)])
        return groups

    def _next_chunk(self, slot: _Slot) -> _Part:
        """The next ``n_batch`` tokens of a prompt being read, cut from its own start
        whatever else runs (see :meth:`_step`); logits only after its last token."""
        chunk = slot.pending[: self.n_batch]
        return _Part(slot, chunk, len(chunk) == len(slot.pending))

    def _decode(self, parts: list[_Part]) -> str | None:
        """Decode ``parts`` as one batch and sample from it; why it failed, or None."""
        batch = self._batch
        n = 0
        outputs: list[tuple[_Slot, int]] = []
        for part in parts:
            start = part.slot.cache.n
            for i, token in enumerate(part.tokens):
                last = part.output and i == len(part.tokens) - 1
                batch.token[n] = token
                batch.pos[n] = start + i
                batch.n_seq_id[n] = 1
                batch.seq_id[n][0] = part.slot.seq_id
                batch.logits[n] = last
                if last:
                    outputs.append((part.slot, n))
                n += 1
        batch.n_tokens = n
        try:
            status = llama_cpp.llama_decode(self._ctx, batch)
            hook = self.after_decode
            if status == 0 and hook is not None:
                status = hook([p.slot.sequence for p in parts]) or 0
        except Exception as exc:
            status, failure = -1, f"{type(exc).__name__}: {exc}"
        else:
            failure = f"llama_decode returned {status}"
        if status != 0:
            for part in parts:  # drop whatever cells the failed batch left behind
                part.slot.cache.keep(part.slot.cache.n)
            return failure
        for part in parts:
            slot = part.slot
            slot.cache.append(part.tokens)
            if slot.next_token is not None:
                slot.next_token = None
            else:
                del slot.pending[: len(part.tokens)]
                self.prompt_tokens_evaluated += len(part.tokens)
        now = time.perf_counter()
        for slot, index in outputs:
            try:
                token = llama_cpp.llama_sampler_sample(slot.sampler, self._ctx, index)
                top = slot.sequence.request.logprobs
                if top is not None:
                    slot.logprob = token_logprob(self.engine, self._ctx, index, token, top)
                self._accept(slot, token, now)
            except Exception as exc:  # this request's own failure (a sink, the matcher)
                self._fail(slot, f"{type(exc).__name__}: {exc}")
        return None

    def _accept(self, slot: _Slot, token: int, now: float) -> None:
        slot.sampled += 1
        slot.last = now
        if slot.sampled == 1:
            slot.first = now
        engine = self.engine
        ends = self._ends.get(token)
        if ends is None:
            ends = self._ends[token] = engine.is_end_of_generation(token)
        if ends:
            self._finish(slot, StopReason.END)
            return
        slot.generated.append(token)
        if slot.logprob is not None:
            slot.sequence.logprobs.append(slot.logprob)
        self.tokens_generated += 1
        text = slot.decoder.decode(engine.piece(token))
        if text:
            emit, stopped = slot.matcher.feed(text)
            if emit:
                slot.emitted.append(emit)
                slot.sequence._sink(emit)
            if stopped:
                self._finish(slot, StopReason.END, flush=False)
                return
        if len(slot.generated) >= slot.sequence.budget:
            self._finish(slot, StopReason.LENGTH)
            return
        slot.next_token = token

    def _fail(self, slot: _Slot, reason: str) -> None:
        """End one request on an error; its cells are cleared (their state is unknown)."""
        log.error("request failed in the decode loop: %s", reason)
        slot.sequence.error = reason
        slot.cache.clear()
        self._finish(slot, StopReason.CANCELLED)

    def _finish(self, slot: _Slot, reason: StopReason, *, flush: bool = True) -> None:
        sequence = slot.sequence
        if slot not in self._slots:
            return
        try:
            if flush and reason is not StopReason.CANCELLED and sequence.error is None:
                tail = slot.decoder.decode(b"", final=True)
                emit, stopped = slot.matcher.feed(tail) if tail else ("", False)
                emit += "" if stopped else slot.matcher.flush()
                if emit:
                    slot.emitted.append(emit)
                    sequence._sink(emit)
            self._remember(slot, reason)
        finally:
            llama_cpp.llama_sampler_free(slot.sampler)
            stats = sequence.stats
            stats.stop_reason = reason
            stats.generated_tokens = len(slot.generated)
            stats.sampled_tokens = slot.sampled
            if slot.sampled:
                stats.time_to_first_token_s = slot.first - sequence.submitted
                stats.prompt_seconds = slot.first - slot.admitted
                stats.generation_seconds = slot.last - slot.first if slot.sampled > 1 else 0.0
            self._slots.remove(slot)
            slot.cache.last_used = time.monotonic()
            self._release(slot.cache)
            sequence.end()

    def _remember(self, slot: _Slot, reason: StopReason) -> None:
        """Pair the answer's text with the model's own tokens, when they match exactly."""
        request = slot.sequence.request
        slot.cache.memo = None
        if request.text is None or reason is not StopReason.END or slot.sequence.error:
            return
        answer = "".join(slot.emitted)
        if answer.encode("utf-8") == b"".join(self.engine.piece(t) for t in slot.generated):
            slot.cache.memo = (request.text + answer, request.tokens + slot.generated)
