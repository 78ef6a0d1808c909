"""Several answers decoded together: one llama.cpp batch per step, one sequence per request.

This is llama.cpp server's slot model written over the C API: each request gets its own
sequence id in one shared KV cache and its own sampler; every step decodes one batch
holding the next token of each generating sequence plus, when room is left, a chunk of
a newly admitted prompt (continuous batching). A finished or cancelled sequence leaves
the batch and its cache cells are freed at once; beyond ``n_parallel`` requests wait in
a bounded FIFO queue.

All llama.cpp calls happen on one thread (the decode loop); other threads only submit
requests and cancel them.
"""

from __future__ import annotations

import codecs
import ctypes
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import llama_cpp

from amalia_local.engine.model import Engine
from amalia_local.engine.options import SamplingOptions
from amalia_local.engine.sampler import sampler_chain
from amalia_local.engine.stats import ReplyStats, StopReason
from amalia_local.engine.stops import StopMatcher
from amalia_local.errors import ContextOverflowError, ModelLoadError, QueueFullError

# Prompt tokens decoded per step; generating sequences always get their token first.
DEFAULT_BATCH = 512


@dataclass(frozen=True)
class SequenceRequest:
    """One prompt to answer, already tokenized, with how to sample and when to stop."""

    tokens: list[int]
    sampling: SamplingOptions = field(default_factory=SamplingOptions)
    grammar: str | None = None  # GBNF, e.g. from a JSON schema
    stop: tuple[str, ...] = ()
    frequency_penalty: float = 0.0
    presence_penalty: float = 0.0


# What a sequence hands its consumer: text chunks, then ``None`` once it has ended.
Sink = Callable[[str | None], None]


class Sequence:
    """A submitted request: its stats, its end, and :meth:`cancel` for any thread."""

    def __init__(self, request: SequenceRequest, sink: Sink, budget: int, wake: Callable[[], None]):
        self.request = request
        self.budget = budget
        self.stats = ReplyStats()
        self.error: str | None = None  # set when llama.cpp failed the batch it was in
        self._sink = sink
        self._wake = wake
        self._cancelled = False
        self.submitted = time.perf_counter()

    def cancel(self) -> None:
        """Stop now; the sequence leaves the batch (or the queue) at the next step."""
        self._cancelled = True
        self._wake()

    @property
    def cancelled(self) -> bool:
        return self._cancelled


@dataclass
class _Slot:
    """A sequence being decoded: its id in the KV cache and its decoding state."""

    seq_id: int
    sequence: Sequence
    sampler: ctypes.c_void_p
    pending: list[int]  # prompt tokens not yet decoded
    matcher: StopMatcher
    n_past: int = 0
    next_token: int | None = None  # sampled, to be decoded at the next step
    generated: int = 0
    sampled: int = 0
    admitted: float = 0.0
    first: float = 0.0
    last: float = 0.0
    decoder: codecs.IncrementalDecoder = field(
        default_factory=lambda: codecs.getincrementaldecoder("utf-8")(errors="replace")
    )


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
    ) -> None:
        self.engine = engine
        self.n_parallel = n_parallel
        self.n_ctx_per_seq = n_ctx_per_seq
        self.max_queue = max_queue
        self.n_batch = max(n_batch, n_parallel)
        llm = engine._llm  # same package: the engine's loaded model, shared read-only
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = n_ctx_per_seq * n_parallel
        params.n_batch = self.n_batch
        params.n_ubatch = self.n_batch
        params.n_seq_max = n_parallel
        params.n_threads = engine.options.n_threads
        params.n_threads_batch = engine.options.n_threads
        # One KV stream per sequence: requests share no prefix, and each keeps its own
        # n_ctx_per_seq cells, so one long answer cannot starve the others.
        params.kv_unified = False
        self._ctx = llama_cpp.llama_init_from_model(llm.model, params)
        if not self._ctx:
            reason = engine._log.failure_reason() or "llama_init_from_model failed"
            raise ModelLoadError(
                "error.model_load_failed", path=engine.model_file.path, reason=reason
            )
        self._memory = llama_cpp.llama_get_memory(self._ctx)
        self._vocab = engine._vocab
        # Whether a token ends the answer, asked of llama.cpp once per token id: each
        # ctypes call gives up the GIL, which the HTTP thread may then hold for a while.
        self._ends: dict[int, bool] = {}
        self._batch = llama_cpp.llama_batch_init(self.n_batch, 0, 1)
        self._cond = threading.Condition()
        self._waiting: deque[Sequence] = deque()
        self._slots: list[_Slot] = []
        self._free_ids = list(range(n_parallel))
        self._closing = False
        self.tokens_generated = 0  # answer tokens since start, all sequences (/health)
        self._thread = threading.Thread(target=self._loop, name="amalia-batch", daemon=True)
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
        sequence = Sequence(request, sink, budget, self._wake)
        with self._cond:
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
        with self._cond:
            return len(self._slots), len(self._waiting)

    def close(self) -> None:
        """Cancel everything, stop the loop, free the context (the engine stays open)."""
        with self._cond:
            self._closing = True
            for sequence in self._waiting:
                sequence.cancel()
            for slot in self._slots:
                slot.sequence.cancel()
            self._cond.notify()
        self._thread.join()
        if self._ctx:
            llama_cpp.llama_batch_free(self._batch)
            llama_cpp.llama_free(self._ctx)
            self._ctx = None

    def _wake(self) -> None:
        with self._cond:
            self._cond.notify()

    # --- the decode loop ------------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._closing and not self._slots and not self._waiting:
                    self._cond.wait()
                self._admit()
                if self._closing and not self._slots and not self._waiting:
                    break
            self._drop_cancelled()
            if self._slots:
                self._step()
        for slot in list(self._slots):
            self._finish(slot, StopReason.CANCELLED)

    def _admit(self) -> None:
        """Move waiting requests into free sequence ids (called with the lock held)."""
        while self._waiting and self._free_ids:
            sequence = self._waiting.popleft()
            if sequence.cancelled:
                self._end_unstarted(sequence)
                continue
            seq_id = self._free_ids.pop(0)
            try:
                sampler = self._sampler(sequence.request)
            except ValueError as exc:
                self._free_ids.insert(0, seq_id)
                sequence.error = str(exc)
                self._end_unstarted(sequence)
                continue
            llama_cpp.llama_memory_seq_rm(self._memory, seq_id, -1, -1)
            slot = _Slot(
                seq_id=seq_id,
                sequence=sequence,
                sampler=sampler,
                pending=list(sequence.request.tokens),
                matcher=StopMatcher(sequence.request.stop),
                admitted=time.perf_counter(),
            )
            stats = sequence.stats
            stats.context_size = self.n_ctx_per_seq
            stats.prompt_tokens = stats.prompt_tokens_evaluated = len(slot.pending)
            stats.stop_reason = StopReason.LENGTH
            self._slots.append(slot)

    def _end_unstarted(self, sequence: Sequence) -> None:
        sequence.stats.stop_reason = StopReason.CANCELLED
        sequence._sink(None)

    def _drop_cancelled(self) -> None:
        for slot in [s for s in self._slots if s.sequence.cancelled]:
            self._finish(slot, StopReason.CANCELLED)

    def _sampler(self, request: SequenceRequest) -> ctypes.c_void_p:
        """A sampler chain of its own for each sequence, as llama-server's slots have."""
        return sampler_chain(
            request.sampling,
            self._vocab,
            grammar=request.grammar,
            frequency_penalty=request.frequency_penalty,
            presence_penalty=request.presence_penalty,
        )

    def _step(self) -> None:
        """Decode one batch: a token for each generating slot, then prompt chunks."""
        batch = self._batch
        n = 0
        outputs: list[tuple[_Slot, int]] = []
        for slot in self._slots:
            if slot.next_token is not None:
                self._put(n, slot.next_token, slot.n_past, slot.seq_id, True)
                outputs.append((slot, n))
                slot.n_past += 1
                slot.next_token = None
                n += 1
        for slot in self._slots:
            if not slot.pending or n >= self.n_batch:
                continue
            chunk = slot.pending[: self.n_batch - n]
            del slot.pending[: len(chunk)]
            for i, token in enumerate(chunk):
                last = not slot.pending and i == len(chunk) - 1
                self._put(n, token, slot.n_past, slot.seq_id, last)
                if last:
                    outputs.append((slot, n))
                slot.n_past += 1
                n += 1
        if n == 0:
            return
        batch.n_tokens = n
        status = llama_cpp.llama_decode(self._ctx, batch)
        if status != 0:
            for slot, _ in outputs:
                slot.sequence.error = f"llama_decode returned {status}"
                self._finish(slot, StopReason.CANCELLED)
            return
        now = time.perf_counter()
        for slot, index in outputs:
            token = llama_cpp.llama_sampler_sample(slot.sampler, self._ctx, index)
            self._accept(slot, token, now)

    def _put(self, i: int, token: int, pos: int, seq_id: int, logits: bool) -> None:
        batch = self._batch
        batch.token[i] = token
        batch.pos[i] = pos
        batch.n_seq_id[i] = 1
        batch.seq_id[i][0] = seq_id
        batch.logits[i] = logits

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
        slot.generated += 1
        self.tokens_generated += 1
        text = slot.decoder.decode(engine.piece(token))
        if text:
            emit, stopped = slot.matcher.feed(text)
            if emit:
                slot.sequence._sink(emit)
            if stopped:
                self._finish(slot, StopReason.END, flush=False)
                return
        if slot.generated >= slot.sequence.budget:
            self._finish(slot, StopReason.LENGTH)
            return
        slot.next_token = token

    def _finish(self, slot: _Slot, reason: StopReason, *, flush: bool = True) -> None:
        sequence = slot.sequence
        if flush and reason is not StopReason.CANCELLED:
            tail = slot.decoder.decode(b"", final=True)
            emit, stopped = slot.matcher.feed(tail) if tail else ("", False)
            emit += "" if stopped else slot.matcher.flush()
            if emit:
                sequence._sink(emit)
        llama_cpp.llama_memory_seq_rm(self._memory, slot.seq_id, -1, -1)
        llama_cpp.llama_sampler_free(slot.sampler)
        stats = sequence.stats
        stats.stop_reason = reason
        stats.generated_tokens = slot.generated
        stats.sampled_tokens = slot.sampled
        if slot.sampled:
            stats.time_to_first_token_s = slot.first - sequence.submitted
            stats.prompt_seconds = slot.first - slot.admitted
            stats.generation_seconds = slot.last - slot.first if slot.sampled > 1 else 0.0
        with self._cond:
            self._slots.remove(slot)
            self._free_ids.append(slot.seq_id)
        sequence._sink(None)
