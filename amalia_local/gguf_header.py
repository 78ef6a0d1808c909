"""The facts at the front of a GGUF file, read from its first bytes alone.

``amalia pull`` reads the first megabytes of a Hub file before downloading gigabytes, to
refuse a file this llama.cpp cannot run. gguf's own reader needs the whole file (it maps
it and walks the tensor table), so this walks only the metadata section of a byte
prefix, with gguf's value types, and asks for more bytes when the prefix ends too soon.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from gguf import GGUFValueType, Keys

GGUF_MAGIC = b"GGUF"

# Fixed-size value types: struct format (little-endian).
_SCALARS = {
    GGUFValueType.UINT8: "<B",
    GGUFValueType.INT8: "<b",
    GGUFValueType.UINT16: "<H",
    GGUFValueType.INT16: "<h",
    GGUFValueType.UINT32: "<I",
    GGUFValueType.INT32: "<i",
    GGUFValueType.FLOAT32: "<f",
    GGUFValueType.BOOL: "<?",
    GGUFValueType.UINT64: "<Q",
    GGUFValueType.INT64: "<q",
    GGUFValueType.FLOAT64: "<d",
}
_WANTED = (Keys.General.ARCHITECTURE, Keys.Split.LLM_KV_SPLIT_COUNT)


class NeedMoreBytes(Exception):
    """The prefix ends inside the metadata; read at least ``needed`` bytes and retry."""

    def __init__(self, needed: int) -> None:
        super().__init__(needed)
        self.needed = needed


class NotGguf(Exception):
    """The bytes are not a GGUF header this code understands (``reason`` says why)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class GgufHead:
    version: int
    architecture: str | None
    split_count: int  # 1 for a single-file model


class _Cursor:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        end = self.pos + n
        if end > len(self.data):
            # Ask for what is missing plus room for the rest of the section.
            raise NeedMoreBytes(max(end, 2 * len(self.data)))
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def unpack(self, fmt: str) -> int | float | bool:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def string(self) -> bytes:
        return self.take(int(self.unpack("<Q")))


def read_head(data: bytes) -> GgufHead:
    """Parse the metadata of a GGUF prefix; raises NeedMoreBytes or NotGguf."""
    cur = _Cursor(data)
    if cur.take(4) != GGUF_MAGIC:
        raise NotGguf("magic")
    version = int(cur.unpack("<I"))
    if version not in (2, 3):
        raise NotGguf(f"version {version}")
    cur.unpack("<Q")  # tensor count
    n_kv = int(cur.unpack("<Q"))
    found: dict[str, object] = {}
    for _ in range(n_kv):
        key = cur.string().decode("utf-8", errors="replace")
        value = _value(cur, _type(cur), keep=key in _WANTED)
        if key in _WANTED:
            found[key] = value
    arch = found.get(Keys.General.ARCHITECTURE)
    split = found.get(Keys.Split.LLM_KV_SPLIT_COUNT)
    return GgufHead(
        version=version,
        architecture=arch.decode("utf-8", errors="replace") if isinstance(arch, bytes) else None,
        split_count=int(split) if isinstance(split, int) and split > 0 else 1,
    )


def _type(cur: _Cursor) -> GGUFValueType:
    raw = int(cur.unpack("<I"))
    try:
        return GGUFValueType(raw)
    except ValueError:
        raise NotGguf(f"value type {raw}") from None


def _value(cur: _Cursor, kind: GGUFValueType, keep: bool) -> object:
    if kind in _SCALARS:
        return cur.unpack(_SCALARS[kind])
    if kind == GGUFValueType.STRING:
        return cur.string()
    if kind == GGUFValueType.ARRAY:
        item = _type(cur)
        count = int(cur.unpack("<Q"))
        if item in _SCALARS:  # skip in one step: a vocabulary's scores are 128k floats
            cur.take(struct.calcsize(_SCALARS[item]) * count)
        else:
            for _ in range(count):
                _value(cur, item, keep=False)
        return None
    raise NotGguf(f"value type {kind}")
