"""The KV cache of one loaded model, seen as one sequence of tokens we can edit.

llama-cpp-python keeps its own record of what is in the cache next to llama.cpp's memory;
every edit here changes both together so ``Llama.eval`` goes on appending at the right place.
That record and the raw context are private to llama-cpp-python: they are reached through
:mod:`amalia_local.engine.llama_private`, the one door to them.
"""

from __future__ import annotations

import contextlib
import ctypes
import threading
from collections.abc import Iterator, Sequence

import llama_cpp
import numpy as np

from amalia_local.engine.llama_private import (
    cached_tokens,
    cut_cached,
    n_cached,
    raw_context,
    set_cached,
    truncate_cached,
)

SEQ = 0  # the engine uses a single sequence


class KvMemory:
    """Edits, snapshots and interrupts the cache of one ``llama_cpp.Llama``."""

    def __init__(self, llm: llama_cpp.Llama) -> None:
        self._llm = llm
        self._ctx = raw_context(llm)
        self._mem = llama_cpp.llama_get_memory(self._ctx)
        self._cancel: threading.Event | None = None
        # The ctypes function must outlive every call from C: keep it on the instance.
        self._abort_callback = llama_cpp.ggml_abort_callback(self._should_abort)

    # --- what is cached ---------------------------------------------------------------
    def cached_array(self) -> np.ndarray:
        """The cached tokens (a view: copy before editing the cache)."""
        return cached_tokens(self._llm)

    def tokens(self) -> list[int]:
        return [int(t) for t in self.cached_array()]

    def common_prefix(self, tokens: Sequence[int]) -> int:
        cached = cached_tokens(self._llm)
        n = min(len(cached), len(tokens))
        if n == 0:
            return 0
        differ = np.nonzero(cached[:n] != np.asarray(tokens[:n], dtype=cached.dtype))[0]
        return int(differ[0]) if len(differ) else n

    def keep(self, n: int) -> None:
        """Forget everything after the first ``n`` cached tokens."""
        n = min(n, n_cached(self._llm))
        llama_cpp.llama_memory_seq_rm(self._mem, SEQ, n, -1)
        truncate_cached(self._llm, n)

    def clear(self) -> None:
        llama_cpp.llama_memory_clear(self._mem, True)
        truncate_cached(self._llm, 0)

    @property
    def can_shift(self) -> bool:
        return bool(llama_cpp.llama_memory_can_shift(self._mem))

    def cut(self, start: int, end: int) -> None:
        """Remove cached positions [start, end) and move the rest back to close the gap.

        llama.cpp re-rotates the moved keys (RoPE) on the next decode, so the tokens after
        the gap are not evaluated again: what dropping old turns costs is one K-shift.
        """
        n = n_cached(self._llm)
        if not 0 <= start < end <= n:
            raise ValueError(f"bad cut [{start}, {end}) of {n} cached tokens")
        llama_cpp.llama_memory_seq_rm(self._mem, SEQ, start, end)
        llama_cpp.llama_memory_seq_add(self._mem, SEQ, end, -1, start - end)
        cut_cached(self._llm, start, end)

    # --- snapshots ----------------------------------------------------------------------
    def snapshot(self) -> memoryview:
        """The sequence's cells as llama.cpp serialises them (positions, K and V)."""
        size = llama_cpp.llama_state_seq_get_size(self._ctx, SEQ)
        data = bytearray(size)
        view = (ctypes.c_uint8 * size).from_buffer(data)
        written = llama_cpp.llama_state_seq_get_data(self._ctx, view, size, SEQ)
        del view  # release the export so the bytearray can be sliced and freed
        return memoryview(data)[:written]

    def restore(self, data: bytearray, tokens: Sequence[int]) -> bool:
        """Load a snapshot holding ``tokens``; False (and an empty cache) if llama.cpp or
        the restored positions disagree with it."""
        self.clear()
        view = (ctypes.c_uint8 * len(data)).from_buffer(data)
        read = llama_cpp.llama_state_seq_set_data(self._ctx, view, len(data), SEQ)
        del view
        last = llama_cpp.llama_memory_seq_pos_max(self._mem, SEQ)
        if read != len(data) or last != len(tokens) - 1:
            self.clear()
            return False
        set_cached(self._llm, tokens)
        return True

    # --- interrupting a decode ------------------------------------------------------------
    def _should_abort(self, _data: ctypes.c_void_p) -> bool:
        cancel = self._cancel
        return cancel is not None and cancel.is_set()

    @contextlib.contextmanager
    def abortable(self, cancel: threading.Event | None) -> Iterator[None]:
        """While inside, llama.cpp stops a decode between graph nodes once ``cancel`` is set.

        Installed only around prompt evaluation: the callback takes the GIL on every node,
        which generation (one token per decode, checked between tokens) need not pay for.
        """
        if cancel is None:
            yield
            return
        self._cancel = cancel
        llama_cpp.llama_set_abort_callback(self._ctx, self._abort_callback, None)
        try:
            yield
        finally:
            llama_cpp.llama_set_abort_callback(self._ctx, llama_cpp.ggml_abort_callback(0), None)
            self._cancel = None

    # --- llama.cpp's own counters -----------------------------------------------------------
    def decoded_tokens(self) -> int:
        """Tokens llama.cpp has run through the model since the context was made."""
        llama_cpp.llama_synchronize(self._ctx)  # counters are updated on synchronisation
        perf = llama_cpp.llama_perf_context(self._ctx)
        # llama_perf_context reports both counts as at least 1 (to divide by them): no
        # time spent on a kind of decode means there were none of it.
        batched = perf.n_p_eval if perf.t_p_eval_ms > 0 else 0
        single = perf.n_eval if perf.t_eval_ms > 0 else 0
        return int(batched + single)
