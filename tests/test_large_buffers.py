"""Releasing a model's large buffers a slice at a time before they are freed.

Real glibc allocations made through ctypes stand in for llama.cpp's (it allocates its
buffers with the same ``malloc``): they are found, their pages given back, and ``free``
still works afterwards; nothing else is touched.
"""

from __future__ import annotations

import ctypes
import mmap
import os
import sys

import pytest

from amalia_local.engine.large_buffers import LARGE, large_chunks, release, release_file

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads /proc/self/maps; a no-op elsewhere"
)

MIB = 1024 * 1024


@pytest.fixture
def libc() -> ctypes.CDLL:
    lib = ctypes.CDLL(None)
    lib.malloc.restype = ctypes.c_void_p
    lib.malloc.argtypes = [ctypes.c_size_t]
    lib.free.argtypes = [ctypes.c_void_p]
    lib.posix_memalign.argtypes = [
        ctypes.POINTER(ctypes.c_void_p),
        ctypes.c_size_t,
        ctypes.c_size_t,
    ]
    return lib


def resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * mmap.PAGESIZE


def owner(chunks, address: int):
    return [c for c in chunks if c.start <= address < c.start + c.size]


def test_a_large_allocation_is_found_and_its_pages_given_back(libc):
    before = large_chunks()
    size = 200 * MIB
    pointer = libc.malloc(size)
    try:
        ctypes.memset(pointer, 1, size)
        found = large_chunks() - before
        assert len(owner(found, pointer)) == 1
        resident = resident_bytes()
        assert release(found) >= size - MIB
        assert resident - resident_bytes() >= size - 2 * MIB
        assert ctypes.string_at(pointer + size - 16, 16) == bytes(16)  # released: zeroes
    finally:
        libc.free(pointer)  # glibc's header survived: free() still works
    assert not owner(large_chunks(), pointer)


def test_neighbouring_allocations_in_one_mapping_are_all_found(libc):
    """The kernel merges adjacent anonymous mappings: the first version of this module
    only read the chunk at the start of each mapping and missed the others."""
    before = large_chunks()
    plain = libc.malloc(150 * MIB)
    aligned = ctypes.c_void_p()
    assert libc.posix_memalign(ctypes.byref(aligned), 64, 140 * MIB) == 0
    try:
        found = large_chunks() - before
        assert len(owner(found, plain)) == 1
        assert len(owner(found, aligned.value)) == 1
        assert len(found) == 2
    finally:
        libc.free(plain)
        libc.free(aligned)


def test_other_memory_is_left_alone(libc):
    before = large_chunks()
    small = libc.malloc(LARGE // 2)
    mapped = mmap.mmap(-1, 200 * MIB)  # anonymous, but not a malloc chunk
    try:
        ctypes.memset(small, 7, LARGE // 2)
        mapped[:] = b"\x07" * len(mapped)
        found = large_chunks() - before
        assert not owner(found, small)
        release(found)
        assert ctypes.string_at(small + LARGE // 2 - 4, 4) == b"\x07" * 4
        assert mapped[-4:] == b"\x07" * 4
    finally:
        libc.free(small)
        mapped.close()


def test_a_chunk_freed_since_it_was_found_is_not_touched(libc):
    before = large_chunks()
    pointer = libc.malloc(200 * MIB)
    found = large_chunks() - before
    libc.free(pointer)
    assert release(found) == 0
    assert release(frozenset()) == 0


def resident_in_mappings(path: str, perms: str) -> int:
    """Rss of this process's mappings of ``path`` with ``perms``, from /proc/self/smaps."""
    total, inside = 0, False
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            fields = line.split()
            if not fields[0].endswith(":"):  # a mapping's first line
                inside = fields[1] == perms and fields[-1] == path
            elif inside and fields[0] == "Rss:":
                total += int(fields[1]) * 1024
    return total


def test_a_read_only_file_mapping_leaves_the_page_tables_and_stays_readable(tmp_path):
    model = tmp_path / "model.gguf"
    size = 64 * MIB
    model.write_bytes(bytes(range(256)) * (size // 256))
    path = os.path.realpath(model)
    with open(model, "rb") as file:
        weights = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
    with open(model, "r+b") as file:
        edited = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_COPY)  # private, written
    try:
        assert all(weights[i + 7] == 7 for i in range(0, size, mmap.PAGESIZE))  # all pages in
        edited[:4] = b"edit"
        assert resident_in_mappings(path, "r--s") >= size - MIB
        assert release_file(str(model)) == size
        assert resident_in_mappings(path, "r--s") == 0
        assert weights[size - 1] == 255  # read back from the page cache
        assert edited[:4] == b"edit"  # a writable mapping is not touched
    finally:
        weights.close()
        edited.close()
