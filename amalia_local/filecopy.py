"""Copying model files into place: hard link when possible, sha256 while copying.

Models are gigabytes: a same-filesystem hard link costs nothing, a copy hashes the bytes
as they pass (no second read), and both go through a temporary name and an atomic rename
so the destination is never a half-written file. The store's import, the bundle's
creation and the bundle's import all use this one module, and every other file amalia
writes (settings, the store's index, caches, saved states, reports) goes through
:func:`write_atomically` or :func:`write_text_atomic`: one temp-then-rename in the code.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

CHUNK = 8 * 1024 * 1024


class CopyMismatch(Exception):
    """The copied bytes do not have the sha256 the caller expected."""

    def __init__(self, expected: str, actual: str) -> None:
        super().__init__(expected, actual)
        self.expected = expected
        self.actual = actual


def sha256_file(path: Path, advance: Callable[[int], None] | None = None) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as src:
        while chunk := src.read(CHUNK):
            digest.update(chunk)
            if advance is not None:
                advance(len(chunk))
    return digest.hexdigest()


def copy_hashing(source: Path, dest: Path, advance: Callable[[int], None] | None = None) -> str:
    """Copy into a new file ``dest`` (never overwritten), fsync it, return its sha256."""
    digest = hashlib.sha256()
    with open(source, "rb") as src, open(dest, "xb") as out:
        while chunk := src.read(CHUNK):
            digest.update(chunk)
            out.write(chunk)
            if advance is not None:
                advance(len(chunk))
        out.flush()
        os.fsync(out.fileno())
    return digest.hexdigest()


def link_or_copy(
    source: Path, dest: Path, *, verified_sha256: str | None = None
) -> tuple[str, bool]:
    """Place ``source`` at ``dest``; returns (sha256, hard-linked?).

    ``verified_sha256`` is the hash the caller has just checked ``source`` against: a hard
    link shares its bytes, so it is trusted without a re-read, and a copy must match it.
    """
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.stem}-", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        tmp.unlink()
        try:
            os.link(source, tmp)
            linked = True
            sha256 = verified_sha256 or sha256_file(tmp)
        except OSError:
            linked = False
            sha256 = copy_hashing(source, tmp)
        if verified_sha256 is not None and sha256 != verified_sha256:
            raise CopyMismatch(verified_sha256, sha256)
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return sha256, linked


@contextlib.contextmanager
def write_atomically(dest: Path, *, durable: bool = True, mode: int = 0o600) -> Iterator[BinaryIO]:
    """A binary file that appears at ``dest`` only when the block ends without error.

    Written under a temporary name in the same folder, then renamed: readers (another
    process, the next start after a crash) see the old file or the new one, never a
    half-written one. ``durable=False`` skips the fsync, for caches whose readers verify
    a checksum anyway and would rather not wait for the disk. ``mode``: private by
    default (saved model states hold conversations); reports pass 0o644.
    """
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.stem}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            if hasattr(os, "fchmod"):  # not on Windows, where it means nothing here
                os.fchmod(out.fileno(), mode)
            yield out
            out.flush()
            if durable:
                os.fsync(out.fileno())
        os.replace(tmp_name, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise


def write_text_atomic(path: Path, text: str, *, durable: bool = True, mode: int = 0o644) -> None:
    """UTF-8 text through :func:`write_atomically`; readable by everyone unless ``mode``
    says otherwise (reports are shared, settings and the store's index are private)."""
    with write_atomically(path, durable=durable, mode=mode) as out:
        out.write(text.encode("utf-8"))
