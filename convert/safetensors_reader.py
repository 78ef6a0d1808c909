"""Read Hugging Face safetensors checkpoints through memory maps, a block of rows at a time.

We parse the format ourselves (8-byte little-endian header length, a JSON header, then
raw little-endian tensor bytes) instead of using the ``safetensors`` package because its
numpy front end cannot return bfloat16, which is what AMALIA ships, and because we want
control over which pages stay resident: after a block of rows has been converted, its
pages are released with ``madvise(MADV_DONTNEED)`` so the process' resident set stays
near one block, not one tensor and not one shard.
"""

from __future__ import annotations

import contextlib
import json
import mmap
import os
from collections.abc import Iterator
from dataclasses import dataclass
from math import prod
from pathlib import Path

import numpy as np

from convert.errors import CorruptCheckpointError, MissingFileError, UnsupportedError

INDEX_NAME = "model.safetensors.index.json"
SINGLE_NAME = "model.safetensors"

# safetensors dtype tag -> (numpy dtype used to hold the raw bytes, bytes per element).
# BF16 has no numpy dtype: its bits are carried as uint16 and widened by the caller.
_DTYPES: dict[str, tuple[np.dtype, int]] = {
    "F32": (np.dtype("<f4"), 4),
    "F16": (np.dtype("<f2"), 2),
    "BF16": (np.dtype("<u2"), 2),
    "F64": (np.dtype("<f8"), 8),
    "I64": (np.dtype("<i8"), 8),
    "I32": (np.dtype("<i4"), 4),
    "I16": (np.dtype("<i2"), 2),
    "I8": (np.dtype("i1"), 1),
    "U8": (np.dtype("u1"), 1),
    "BOOL": (np.dtype("?"), 1),
}
# dtypes whose values we know how to turn into float weights
FLOAT_DTYPES = frozenset({"F32", "F16", "BF16"})
# a header larger than this is not a real checkpoint header (the format caps it at 100 MB)
_MAX_HEADER = 100 * 1024 * 1024


@dataclass(frozen=True)
class TensorRef:
    """Where one tensor's bytes live; cheap to keep for every tensor of a checkpoint."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    path: Path
    start: int  # absolute byte offset in the file
    nbytes: int

    @property
    def row_bytes(self) -> int:
        """Bytes of one row (first-axis slice); a 1-D tensor is one row."""
        rows = self.shape[0] if len(self.shape) > 1 else 1
        return self.nbytes // max(rows, 1)


def read_header(path: Path) -> dict[str, TensorRef]:
    """Parse and validate one shard's header without touching its tensor data."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise CorruptCheckpointError(f"{path.name}: file too short to be safetensors")
            n = int.from_bytes(head, "little")
            if n <= 0 or n > _MAX_HEADER or 8 + n > size:
                raise CorruptCheckpointError(
                    f"{path.name}: corrupted safetensors header "
                    f"(declared length {n}, file size {size})"
                )
            raw = f.read(n)
    except FileNotFoundError as e:
        raise MissingFileError(f"shard {path.name} not found in {path.parent}") from e
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CorruptCheckpointError(
            f"{path.name}: safetensors header is not valid JSON ({e})"
        ) from e
    if not isinstance(header, dict):
        raise CorruptCheckpointError(f"{path.name}: safetensors header is not a JSON object")

    data_start = 8 + n
    data_len = size - data_start
    refs: dict[str, TensorRef] = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype = entry["dtype"]
            shape = tuple(int(d) for d in entry["shape"])
            begin, end = (int(x) for x in entry["data_offsets"])
        except (KeyError, TypeError, ValueError) as e:
            raise CorruptCheckpointError(f"{path.name}: malformed header entry for {name!r}") from e
        if dtype not in _DTYPES:
            raise UnsupportedError(f"{path.name}: tensor {name!r} has unsupported dtype {dtype}")
        if begin < 0 or end < begin or end > data_len:
            raise CorruptCheckpointError(
                f"{path.name}: tensor {name!r} lies outside the file (truncated download?)"
            )
        if end - begin != prod(shape) * _DTYPES[dtype][1]:
            raise CorruptCheckpointError(
                f"{path.name}: tensor {name!r} byte size does not match its shape {list(shape)}"
            )
        refs[name] = TensorRef(name, dtype, shape, path, data_start + begin, end - begin)
    return refs


def shard_paths(model_dir: Path) -> list[Path]:
    """The shard files of a checkpoint, checking that every shard the index lists exists."""
    index = model_dir / INDEX_NAME
    if index.is_file():
        try:
            weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
            names = sorted(set(weight_map.values()))
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as e:
            raise CorruptCheckpointError(f"{INDEX_NAME} is not a valid safetensors index") from e
        paths = [model_dir / n for n in names]
        for p in paths:
            if not p.is_file():
                raise MissingFileError(f"shard {p.name} is listed in {INDEX_NAME} but missing")
        return paths
    if (model_dir / SINGLE_NAME).is_file():
        return [model_dir / SINGLE_NAME]
    found = sorted(model_dir.glob("*.safetensors"))
    if found:
        return found
    if any(model_dir.glob("*.bin")) or any(model_dir.glob("*.pt")):
        raise UnsupportedError(
            f"{model_dir} holds PyTorch pickle weights only; safetensors are required"
        )
    raise MissingFileError(f"no safetensors weights in {model_dir}")


def index_checkpoint(model_dir: Path) -> dict[str, TensorRef]:
    """All tensors of a (possibly sharded) checkpoint by name; reads headers only."""
    refs: dict[str, TensorRef] = {}
    for p in shard_paths(model_dir):
        for name, ref in read_header(p).items():
            if name in refs:
                raise CorruptCheckpointError(f"tensor {name!r} appears in more than one shard")
            refs[name] = ref
    index = model_dir / INDEX_NAME
    if index.is_file():
        listed = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        missing = sorted(set(listed) - set(refs))
        if missing:
            raise CorruptCheckpointError(
                f"{INDEX_NAME} lists {missing[0]!r} but no shard contains it"
            )
    return refs


class MappedFiles:
    """Memory maps of the shard files, opened lazily and closed together.

    Used as a context manager so that maps are unmapped even when a conversion fails
    half-way; numpy views handed out by :meth:`row_blocks` must not outlive it.
    """

    def __init__(self) -> None:
        self._maps: dict[Path, mmap.mmap] = {}

    def __enter__(self) -> MappedFiles:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for m in self._maps.values():
            # BufferError: a view is still referenced; the OS unmaps it at exit
            with contextlib.suppress(BufferError):
                m.close()
        self._maps.clear()

    def _map(self, path: Path) -> mmap.mmap:
        m = self._maps.get(path)
        if m is None:
            with open(path, "rb") as f:
                m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            self._maps[path] = m
        return m

    def row_blocks(
        self, ref: TensorRef, max_bytes: int, row_multiple: int = 1
    ) -> Iterator[np.ndarray]:
        """Yield consecutive blocks of rows of ``ref`` as zero-copy numpy views.

        Each block has at most ``max_bytes`` (but at least ``row_multiple`` rows, which
        callers use to keep whole attention heads together). Once the consumer asks for
        the next block, the previous block's pages are dropped from our resident set.
        """
        np_dtype, _ = _DTYPES[ref.dtype]
        m = self._map(ref.path)
        shape = ref.shape if ref.shape else (1,)
        rows = shape[0] if len(shape) > 1 else 1
        inner = shape[1:] if len(shape) > 1 else shape
        row_bytes = ref.row_bytes
        fit = max_bytes // max(row_bytes, 1)
        per_block = max(row_multiple, fit // row_multiple * row_multiple)
        page = mmap.PAGESIZE
        for r0 in range(0, rows, per_block):
            r1 = min(rows, r0 + per_block)
            start = ref.start + r0 * row_bytes
            count = (r1 - r0) * row_bytes // np_dtype.itemsize
            block = np.frombuffer(m, dtype=np_dtype, count=count, offset=start)
            yield block.reshape((r1 - r0, *inner) if len(shape) > 1 else inner)
            del block
            lo = start // page * page
            hi = start + (r1 - r0) * row_bytes
            if hasattr(m, "madvise") and hasattr(mmap, "MADV_DONTNEED"):
                m.madvise(mmap.MADV_DONTNEED, lo, hi - lo)


def file_size(paths: list[Path]) -> int:
    """Total bytes of the given files (used for the disk-space estimate)."""
    return sum(os.path.getsize(p) for p in paths)
