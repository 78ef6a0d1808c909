"""One sequence of a multi-sequence context, seen as the tokens in its KV cells.

The serve slots' counterpart of kv_memory.KvMemory: the same edits (keep a prefix, cut
dropped turns and shift the rest back, snapshot, restore) for sequence ``seq_id`` of the
batch context, so engine/reuse.py decides for a slot exactly as it does for ``run``; and
one edit only slots have, taking a prefix from another sequence (:meth:`copy_from`).
Only the decode thread calls these (llama.cpp calls on one context are not concurrent).
"""

from __future__ import annotations

import ctypes
import time
from collections.abc import Sequence

import llama_cpp
import numpy as np


class SeqMemory:
    def __init__(self, ctx: ctypes.c_void_p, seq_id: int, capacity: int) -> None:
        self._ctx = ctx
        self._mem = llama_cpp.llama_get_memory(ctx)
        self.seq_id = seq_id
        self._ids = np.zeros(capacity + 1, dtype=np.int32)
        self.n = 0
        self.last_used = 0.0  # when a request last used these cells (least recently used)
        # (text, tokens) of the last answer when they pair exactly (server/prompts.py).
        self.memo: tuple[str, list[int]] | None = None
        self.saved_n = 0  # tokens in the last state saved to disk (nothing new: no save)
        # The last request's prompt length: a new prompt sharing all of it is the same
        # conversation (a next turn, or the last answer asked again).
        self.prompt_n = 0

    # --- what is cached ---------------------------------------------------------------
    def cached_array(self) -> np.ndarray:
        return self._ids[: self.n]

    def common_prefix(self, tokens: Sequence[int] | np.ndarray) -> int:
        """Leading ``tokens`` these cells hold (an int32 array is compared without a copy)."""
        n = min(self.n, len(tokens))
        if n == 0:
            return 0
        differ = np.nonzero(self._ids[:n] != np.asarray(tokens[:n], dtype=np.int32))[0]
        return int(differ[0]) if len(differ) else n

    def append(self, tokens: Sequence[int]) -> None:
        """Record tokens just decoded at the end of the sequence."""
        self._ids[self.n : self.n + len(tokens)] = tokens
        self.n += len(tokens)
        self.last_used = time.monotonic()

    # --- editing ----------------------------------------------------------------------
    def keep(self, n: int) -> None:
        """Forget every cell after the first ``n`` tokens."""
        n = max(0, min(n, self.n))
        llama_cpp.llama_memory_seq_rm(self._mem, self.seq_id, n, -1)
        self.n = n
        self.saved_n = min(self.saved_n, n)
        self.prompt_n = min(self.prompt_n, n)
        self.memo = None

    def clear(self) -> None:
        llama_cpp.llama_memory_seq_rm(self._mem, self.seq_id, -1, -1)
        self.n = self.saved_n = self.prompt_n = 0
        self.memo = None

    @property
    def can_shift(self) -> bool:
        return bool(llama_cpp.llama_memory_can_shift(self._mem))

    def cut(self, start: int, end: int) -> None:
        """Remove positions [start, end) and move the rest back (llama.cpp re-rotates)."""
        if not 0 <= start < end <= self.n:
            raise ValueError(f"bad cut [{start}, {end}) of {self.n} cached tokens")
        llama_cpp.llama_memory_seq_rm(self._mem, self.seq_id, start, end)
        llama_cpp.llama_memory_seq_add(self._mem, self.seq_id, end, -1, start - end)
        kept = self._ids[end : self.n].copy()
        self._ids[start : start + len(kept)] = kept
        self.n -= end - start
        self.saved_n = 0
        self.prompt_n = self.n
        self.memo = None

    def copy_from(self, source: SeqMemory, n: int) -> bool:
        """Hold ``source``'s first ``n`` tokens (their cells copied), nothing else.

        The batch context keeps one KV stream per sequence (``kv_unified`` off), and
        there llama.cpp's ``llama_memory_seq_cp`` between two sequences copies the whole
        stream or nothing (a partial range aborts the process), so the whole stream is
        copied and the cells from ``n`` on removed again. The cells' metadata moves at
        once; the K and V data are copied by the next ``llama_decode``, before it reads
        anything, so the caller must decode before any snapshot or restore touches
        either sequence (BatchGenerator decodes this sequence's next chunk at once).
        ``source`` may be generating: its cells below its ``n`` do not change.

        False (and these cells empty) if the copy did not leave exactly ``n`` positions.
        """
        if not 0 < n <= source.n or source is self or len(self._ids) != len(source._ids):
            return False
        self.clear()
        llama_cpp.llama_memory_seq_cp(self._mem, source.seq_id, self.seq_id, -1, -1)
        llama_cpp.llama_memory_seq_rm(self._mem, self.seq_id, n, -1)
        first = llama_cpp.llama_memory_seq_pos_min(self._mem, self.seq_id)
        last = llama_cpp.llama_memory_seq_pos_max(self._mem, self.seq_id)
        if first != 0 or last != n - 1:
            self.clear()
            return False
        self._ids[:n] = source._ids[:n]
        self.n = n
        return True

    # --- snapshots ----------------------------------------------------------------------
    def snapshot(self) -> memoryview:
        size = llama_cpp.llama_state_seq_get_size(self._ctx, self.seq_id)
        data = bytearray(size)
        view = (ctypes.c_uint8 * size).from_buffer(data)
        written = llama_cpp.llama_state_seq_get_data(self._ctx, view, size, self.seq_id)
        del view  # release the export so the bytearray can be sliced
        return memoryview(data)[:written]

    def restore(self, data: bytearray, tokens: Sequence[int]) -> bool:
        """Load a saved state holding ``tokens``; False (cells empty) if it does not fit."""
        self.clear()
        if len(tokens) > len(self._ids) - 1:
            return False
        view = (ctypes.c_uint8 * len(data)).from_buffer(data)
        read = llama_cpp.llama_state_seq_set_data(self._ctx, view, len(data), self.seq_id)
        del view
        last = llama_cpp.llama_memory_seq_pos_max(self._mem, self.seq_id)
        if read != len(data) or last != len(tokens) - 1:
            self.clear()
            return False
        self._ids[: len(tokens)] = tokens
        self.n = self.saved_n = self.prompt_n = len(tokens)
        return True
