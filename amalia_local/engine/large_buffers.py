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
64 MiB, and Python's arenas are 1 MiB), and a mapping the kernel merged with a neighbour fails
the header check and is left alone. Memory is read through ``/proc/self/mem``, which answers a
vanished mapping with an error rather than a crash. Where any of this is missing (not Linux,
not glibc) nothing is found and nothing changes.

Releasing zeroes the buffers: the caller does it only once nothing will read them again (the
sequences' states saved, the decode loop stopped), just before llama.cpp frees them.
"""

from __future__ import annotations

import ctypes
import os
import re
import struct
import sys
from typing import NamedTuple

LARGE = 128 * 1024 * 1024
STEP = 64 * 1024 * 1024
_IS_MMAPPED = 0x2  # glibc's chunk flag; its other two flags are never set on mmapped chunks
_FLAGS = 0x7
_KEEP = 64 * 1024  # past glibc's header, even behind an aligned allocation's lead
_MADV_DONTNEED = 4  # the same on every architecture Linux wheels are built for
_ANONYMOUS = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) rw-p 00000000 00:00 0\s*$")


class Chunk(NamedTuple):
    start: int
    size: int


def large_chunks() -> frozenset[Chunk]:
    """The glibc mmapped chunks of at least LARGE bytes this process has now."""
    if not sys.platform.startswith("linux") or ctypes.sizeof(ctypes.c_size_t) != 8:
        return frozenset()
    try:
        with open("/proc/self/maps", encoding="ascii") as maps:
            spans = [_anonymous_span(line) for line in maps]
        fd = os.open("/proc/self/mem", os.O_RDONLY)
    except OSError:
        return frozenset()
    try:
        return frozenset(
            chunk
            for start, end in filter(None, spans)
            for chunk in _chunks_in(fd, start, end)
            if chunk.size >= LARGE
        )
    finally:
        os.close(fd)


def release(chunks: frozenset[Chunk]) -> int:
    """Free the pages of ``chunks`` that still hold the same chunk; returns the bytes freed."""
    if not chunks:
        return 0
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        madvise = libc.madvise
        fd = os.open("/proc/self/mem", os.O_RDONLY)
    except (OSError, AttributeError):
        return 0
    madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    madvise.restype = ctypes.c_int
    freed = 0
    try:
        for chunk in sorted(chunks):
            if _chunk_at(fd, chunk.start, chunk.start + chunk.size) != chunk:
                continue  # freed or reused since it was found: not ours to touch
            offset = _KEEP  # glibc's header, which free() reads
            while offset < chunk.size:
                step = min(STEP, chunk.size - offset)
                if madvise(chunk.start + offset, step, _MADV_DONTNEED) != 0:
                    break
                offset += step
                freed += step
    finally:
        os.close(fd)
    return freed


def _anonymous_span(line: str) -> tuple[int, int] | None:
    match = _ANONYMOUS.match(line)
    if match is None:
        return None
    start, end = int(match.group(1), 16), int(match.group(2), 16)
    return (start, end) if end - start >= LARGE else None  # too small to hold a large chunk


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
