"""Saved KV states on disk, so no history is evaluated twice on a slow laptop.

Each file holds one snapshot of the cache and the exact tokens it was made from. A state
is found by the longest run of leading tokens it shares with a new prompt, so it serves
any conversation that starts the same way (the system prompt, or the same conversation
reopened), whatever process saved it. Files live in one folder per *identity* (model
file, KV type, attention layout, llama.cpp version): a state made under other settings
is never even looked at, and one whose header, tokens or checksum disagree is ignored,
reported and deleted. Disk use stays under a budget by evicting the least recently used.

No llama.cpp here: the engine hands over bytes and tokens (see kv_memory.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import struct
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from amalia_local.filecopy import write_atomically

MAGIC = b"AMALIAKV"
FORMAT = 1
SUFFIX = ".kv"
_HEADER_LEN = struct.Struct("<I")
_MAX_HEADER = 1 << 16
# Bytes hashed at each end of a model file for its identity: covers the GGUF header
# (metadata, tensor table) and the last tensor's data, in milliseconds for gigabytes.
_IDENTITY_SPAN = 1 << 20
DEFAULT_BUDGET_BYTES = 4 * 10**9


def model_fingerprint(path: Path) -> str:
    """Content identity of a model file: size plus both ends (cheap for a 5 GB file)."""
    size = path.stat().st_size
    digest = hashlib.sha256(str(size).encode())
    with open(path, "rb") as fh:
        digest.update(fh.read(_IDENTITY_SPAN))
        fh.seek(max(0, size - _IDENTITY_SPAN))
        digest.update(fh.read(_IDENTITY_SPAN))
    return digest.hexdigest()


@dataclass(frozen=True)
class SavedState:
    path: Path
    tokens: np.ndarray  # int32
    anchor: bool  # a shared prefix (the system prompt): kept when longer states are saved
    payload_offset: int
    payload_bytes: int
    crc32: int

    @property
    def n_tokens(self) -> int:
        return len(self.tokens)


class InvalidState(Exception):
    """A state file that must not be loaded; the message says why (for the log)."""


class StateCache:
    """The states of one identity, under ``root`` (shared by all identities' budget)."""

    def __init__(
        self,
        root: Path,
        identity: dict[str, Any],
        budget_bytes: int = DEFAULT_BUDGET_BYTES,
        report: Callable[[str], None] | None = None,
    ) -> None:
        self.root = root
        self.identity = dict(identity, format=FORMAT)
        key = json.dumps(self.identity, sort_keys=True).encode()
        self.directory = root / hashlib.sha256(key).hexdigest()[:24]
        self.budget_bytes = budget_bytes
        self._report = report or (lambda _message: None)

    @property
    def enabled(self) -> bool:
        return self.budget_bytes > 0

    # --- finding --------------------------------------------------------------------------
    def states(self) -> list[SavedState]:
        """Every readable state of this identity; unreadable ones are reported and removed."""
        found = []
        for path in sorted(self.directory.glob(f"*{SUFFIX}")):
            try:
                found.append(self._read_header(path))
            except FileNotFoundError:
                continue  # another process evicted it meanwhile
            except (OSError, InvalidState) as exc:
                self.discard(path, str(exc))
        return found

    def best_match(
        self, tokens: Sequence[int], max_tokens: int | None = None
    ) -> tuple[SavedState, int] | None:
        """The state sharing the most leading tokens with ``tokens`` (fewest extra on ties).

        ``max_tokens``: states holding more (made with a larger context) are skipped, not
        discarded: they are valid, just not loadable into this context.
        """
        wanted = np.asarray(tokens, dtype=np.int32)
        best: tuple[SavedState, int] | None = None
        for state in self.states():
            if max_tokens is not None and state.n_tokens > max_tokens:
                continue
            shared = _shared_prefix(state.tokens, wanted)
            if shared == 0:
                continue
            if best is None or (shared, -state.n_tokens) > (best[1], -best[0].n_tokens):
                best = (state, shared)
        return best

    def read_payload(self, state: SavedState) -> bytearray | None:
        """The snapshot bytes, checked against the header; None (reported) if damaged."""
        try:
            with open(state.path, "rb") as fh:
                fh.seek(state.payload_offset)
                data = bytearray(state.payload_bytes)
                if fh.readinto(data) != state.payload_bytes or fh.read(1):
                    raise InvalidState("size does not match its header")
            crc = zlib.crc32(data, zlib.crc32(state.tokens.tobytes()))
            if crc != state.crc32:
                raise InvalidState("checksum mismatch")
        except FileNotFoundError:
            return None
        except (OSError, InvalidState) as exc:
            self.discard(state.path, str(exc))
            return None
        with contextlib.suppress(OSError):
            os.utime(state.path)  # least recently *used*, not written
        return data

    def discard(self, path: Path, reason: str) -> None:
        self._report(f"ignored saved KV state {path.name}: {reason}")
        with contextlib.suppress(OSError):
            path.unlink()

    # --- saving ---------------------------------------------------------------------------
    def save(self, tokens: Sequence[int], payload: memoryview, *, anchor: bool = False) -> bool:
        """Write a state atomically, drop the states it makes redundant, keep the budget.

        Redundant: shorter states of the same conversation (their tokens are a prefix of
        these), except anchors, which other conversations share.
        """
        ids = np.asarray(tokens, dtype=np.int32)
        size_estimate = len(payload) + 4 * len(ids) + _MAX_HEADER
        if not self.enabled or not len(ids) or size_estimate > self.budget_bytes:
            return False
        path = self.directory / f"{hashlib.sha256(ids.tobytes()).hexdigest()[:32]}{SUFFIX}"
        if path.exists():
            with contextlib.suppress(OSError):
                os.utime(path)
            return True
        header = dict(
            self.identity,
            n_tokens=len(ids),
            payload_bytes=len(payload),
            crc32=zlib.crc32(payload, zlib.crc32(ids.tobytes())),
            anchor=anchor,
        )
        encoded = json.dumps(header, sort_keys=True).encode()
        self.directory.mkdir(parents=True, exist_ok=True)
        with write_atomically(path, durable=False) as out:
            out.write(MAGIC + _HEADER_LEN.pack(len(encoded)) + encoded)
            out.write(ids.astype("<i4").tobytes())
            out.write(payload)
        for state in self.states():
            redundant = state.n_tokens < len(ids) and not state.anchor
            if redundant and _shared_prefix(state.tokens, ids) == state.n_tokens:
                with contextlib.suppress(OSError):
                    state.path.unlink()
        self.enforce_budget(keep=path)
        return True

    def enforce_budget(self, keep: Path | None = None) -> None:
        """Delete the least recently used states (of any identity) until under budget."""
        files = []
        for path in self.root.glob(f"*/*{SUFFIX}"):
            with contextlib.suppress(OSError):
                stat = path.stat()
                files.append((stat.st_mtime_ns, stat.st_size, path))
        total = sum(size for _, size, _ in files)
        for _, size, path in sorted(files, key=lambda f: (f[0], f[2] != keep)):
            if total <= self.budget_bytes:
                break
            if path == keep:
                continue
            with contextlib.suppress(OSError):
                path.unlink()
                total -= size

    # --- file format ----------------------------------------------------------------------
    def _read_header(self, path: Path) -> SavedState:
        with open(path, "rb") as fh:
            start = fh.read(len(MAGIC) + _HEADER_LEN.size)
            if len(start) != len(MAGIC) + _HEADER_LEN.size or not start.startswith(MAGIC):
                raise InvalidState("not a saved KV state")
            (length,) = _HEADER_LEN.unpack(start[len(MAGIC) :])
            if length > _MAX_HEADER:
                raise InvalidState("header too large")
            try:
                header = json.loads(fh.read(length))
                n_tokens = int(header["n_tokens"])
                payload_bytes = int(header["payload_bytes"])
                crc = int(header["crc32"])
            except (ValueError, KeyError, TypeError) as exc:
                raise InvalidState(f"unreadable header ({exc})") from None
            mismatched = sorted(k for k, v in self.identity.items() if header.get(k) != v)
            if mismatched:
                raise InvalidState(f"made for other settings ({', '.join(mismatched)})")
            raw = fh.read(4 * n_tokens)
            if len(raw) != 4 * n_tokens:
                raise InvalidState("truncated")
        offset = len(start) + length + 4 * n_tokens
        if path.stat().st_size != offset + payload_bytes:
            raise InvalidState("size does not match its header")
        return SavedState(
            path=path,
            tokens=np.frombuffer(raw, dtype="<i4").astype(np.int32),
            anchor=bool(header.get("anchor", False)),
            payload_offset=offset,
            payload_bytes=payload_bytes,
            crc32=crc,
        )


def _shared_prefix(a: np.ndarray, b: np.ndarray) -> int:
    n = min(len(a), len(b))
    differ = np.nonzero(a[:n] != b[:n])[0]
    return int(differ[0]) if len(differ) else n
