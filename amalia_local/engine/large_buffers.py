"""Give a loaded model's large buffers back to the kernel a slice at a time, before freeing them.

Why: llama.cpp frees a multi-GB buffer (the CPU-repacked copy of the weights, a KV cache)
with one ``free``, which glibc turns into one ``munmap``. The kernel frees every page of it
while holding the process's mmap lock: 0.45 s for the 4.9 GB of AMALIA's repacked Q4_0
weights on the test machine. Any thread that maps memory meanwhile waits for it, and a Python
thread maps memory while holding the GIL (a new thread's first frame, a new obmalloc arena),
so the whole server stalls: /health took 300-590 ms to answer when a request came in while an
idle model was being unloaded (traced with ``strace -f -T -k``). ``madvise(MADV_DONTNEED)``
frees the same pages in 64 MiB steps, each holding the lock for a few milliseconds; the
``munmap`` that follows has nothing left to free.

Which buffers: llama.cpp's own, found without touching its internals. A buffer counts if it is
a glibc mmapped chunk (its header at the start of its mapping says so, size included) of at
least 128 MiB that appeared while the model loaded. Nothing else in the server allocates that
much in one piece (request bodies are at most a few MiB; glibc's per-thread heaps are at most
64 MiB, and Python's arenas are 1 MiB). The kernel merges neighbouring anonymous mappings,
so the chunks of one mapping are walked end to end, and the walk stops at anything that is
not a chunk. Memory is read through ``/proc/self/mem``, which answers a vanished mapping with
an error rather than a crash. Where any of this is missing (not Linux,
not glibc) nothing is found and nothing changes.

Releasing zeroes the buffers: the caller does it only once nothing will read them again (the
sequences' states saved, the decode loop stopped), just before llama.cpp frees them.
"""

from __future__ import annotations

import ctypes
import os
import struct
import sys
from collections.abc import Callable
from typing import NamedTuple

LARGE = 128 * 1024 * 1024
STEP = 64 * 1024 * 1024
_IS_MMAPPED = 0x2  # glibc's chunk flag; its other two flags are never set on mmapped chunks
_FLAGS = 0x7
_KEEP = 64 * 1024  # past glibc's header, even behind an aligned allocation's lead
_MADV_DONTNEED = 4  # the same on every architecture Linux wheels are built for


class Chunk(NamedTuple):
    start: int
    size: int


class _Mapping(NamedTuple):
    start: int
    end: int
    perms: str  # "rw-p", "r--s"...
    path: str  # empty for anonymous memory


def large_chunks() -> frozenset[Chunk]:
    """The glibc mmapped chunks of at least LARGE bytes this process has now."""
    if not sys.platform.startswith("linux") or ctypes.sizeof(ctypes.c_size_t) != 8:
        return frozenset()
    spans = [
        (m.start, m.end)
        for m in _mappings()
        if m.perms == "rw-p" and not m.path and m.end - m.start >= LARGE
    ]
    try:
        fd = os.open("/proc/self/mem", os.O_RDONLY)
    except OSError:
        return frozenset()
    try:
        return frozenset(
            chunk
            for start, end in spans
            for chunk in _chunks_in(fd, start, end)
            if chunk.size >= LARGE
        )
    finally:
        os.close(fd)


def release(chunks: frozenset[Chunk]) -> int:
    """Free the pages of ``chunks`` that still hold the same chunk; returns the bytes freed."""
    madvise = _madvise() if chunks else None
    if madvise is None:
        return 0
    try:
        fd = os.open("/proc/self/mem", os.O_RDONLY)
    except OSError:
        return 0
    freed = 0
    try:
        for chunk in sorted(chunks):
            if _chunk_at(fd, chunk.start, chunk.start + chunk.size) != chunk:
                continue  # freed or reused since it was found: not ours to touch
            # The first bytes keep glibc's header, which free() reads.
            freed += _drop(madvise, chunk.start + _KEEP, chunk.size - _KEEP)
    finally:
        os.close(fd)
    return freed


def release_file(path: str) -> int:
    """Drop this process's read-only mappings of ``path`` from its page tables, in steps.

    The model file's own mapping (4.9 GB at AMALIA's shape) costs its munmap 20-100 ms of
    page-table work under the same lock. Dropping the entries of a read-only file mapping
    loses nothing: a later read, if any, faults the page back in from the page cache.
    """
    madvise = _madvise()
    if madvise is None:
        return 0
    real = os.path.realpath(path)
    return sum(
        _drop(madvise, m.start, m.end - m.start)
        for m in _mappings()
        if "w" not in m.perms and m.path in (real, f"{real} (deleted)")
    )


def _mappings() -> list[_Mapping]:
    """This process's mappings, from /proc/self/maps (none where it cannot be read)."""
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            lines = maps.read().splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        fields = line.split(maxsplit=5)
        if len(fields) >= 5:
            start, end = (int(edge, 16) for edge in fields[0].split("-"))
            found.append(_Mapping(start, end, fields[1], fields[5] if len(fields) == 6 else ""))
    return found


def _madvise() -> Callable[[int, int, int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        madvise = ctypes.CDLL(None, use_errno=True).madvise
    except (OSError, AttributeError):
        return None
    madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    madvise.restype = ctypes.c_int
    return madvise


def _drop(madvise: Callable[[int, int, int], int], start: int, size: int) -> int:
    """MADV_DONTNEED over [start, start + size) a STEP at a time (ctypes lets the GIL go)."""
    done = 0
    while done < size:
        step = min(STEP, size - done)
        if madvise(start + done, step, _MADV_DONTNEED) != 0:
            break
        done += step
    return done


def _chunks_in(fd: int, start: int, end: int) -> list[Chunk]:
    """The chunks laid end to end from ``start``: the kernel merges neighbouring anonymous
    mappings into one, so a mapping may hold several, and the walk stops at anything else."""
    chunks = []
    while (chunk := _chunk_at(fd, start, end)) is not None:
        chunks.append(chunk)
        start += chunk.size
    return chunks


def _chunk_at(fd: int, start: int, end: int) -> Chunk | None:
    """The chunk whose header is at ``start``, if there is one and it ends by ``end``."""
    try:
        header = os.pread(fd, 16, start)
    except OSError:
        return None
    if len(header) != 16:
        return None
    prev_size, size_field = struct.unpack("=QQ", header)
    size = size_field & ~_FLAGS
    if prev_size != 0 or size_field & _FLAGS != _IS_MMAPPED:
        return None
    if size < _KEEP or start + size > end:
        return None
    return Chunk(start, size)
