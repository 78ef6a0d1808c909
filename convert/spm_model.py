"""Read a SentencePiece ``tokenizer.model`` without the ``sentencepiece`` package.

The file is a protobuf ``ModelProto``. We need only a handful of fields (the pieces
with their scores and types, the model type, byte fallback, the special ids and the
dummy-prefix flag), so a forty-line decoder of protobuf's wire format keeps the
converter free of sentencepiece and protobuf as runtime dependencies. Piece types use
SentencePiece's numbering, which is also GGUF's token-type numbering (NORMAL=1,
UNKNOWN=2, CONTROL=3, USER_DEFINED=4, UNUSED=5, BYTE=6).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

NORMAL_PIECE = 1
BPE_MODEL = 2  # TrainerSpec.ModelType: 1 unigram, 2 bpe, 3 word, 4 char


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def _fields(buf: bytes) -> list[tuple[int, int, Any]]:
    """Decode one protobuf message level into (field number, wire type, raw value)."""
    out: list[tuple[int, int, Any]] = []
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        num, wire = key >> 3, key & 7
        if wire == 0:
            val, pos = _varint(buf, pos)
        elif wire == 1:
            val, pos = buf[pos : pos + 8], pos + 8
        elif wire == 2:
            n, pos = _varint(buf, pos)
            val, pos = buf[pos : pos + n], pos + n
        elif wire == 5:
            val, pos = buf[pos : pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        if pos > len(buf):
            raise ValueError("truncated protobuf field")
        out.append((num, wire, val))
    return out


@dataclass
class SpmModel:
    pieces: list[tuple[str, float, int]]
    model_type: int = 1  # 1 unigram, 2 bpe (SentencePiece's TrainerSpec.ModelType)
    byte_fallback: bool = False
    add_dummy_prefix: bool = True
    trainer_ids: dict[str, int] = field(default_factory=dict)


def _int32(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


def parse_sentencepiece(data: bytes) -> SpmModel:
    """Parse the parts of a SentencePiece ``ModelProto`` that conversion needs.

    Field numbers come from sentencepiece_model.proto: ModelProto.pieces=1,
    trainer_spec=2, normalizer_spec=3; SentencePiece.piece=1, score=2, type=3;
    TrainerSpec.model_type=3, byte_fallback=35, unk/bos/eos/pad_id=40..43;
    NormalizerSpec.add_dummy_prefix=3.
    """
    model = SpmModel(pieces=[])
    ids = {"unk": 0, "bos": 1, "eos": 2, "pad": -1}
    for num, wire, val in _fields(data):
        if num == 1 and wire == 2:
            text, score, typ = "", 0.0, NORMAL_PIECE
            for n2, w2, v2 in _fields(val):
                if n2 == 1 and w2 == 2:
                    text = v2.decode("utf-8")
                elif n2 == 2 and w2 == 5:
                    score = struct.unpack("<f", v2)[0]
                elif n2 == 3 and w2 == 0:
                    typ = v2
            model.pieces.append((text, score, typ))
        elif num == 2 and wire == 2:
            for n2, w2, v2 in _fields(val):
                if n2 == 3 and w2 == 0:
                    model.model_type = v2
                elif n2 == 35 and w2 == 0:
                    model.byte_fallback = bool(v2)
                elif 40 <= n2 <= 43 and w2 == 0:
                    ids[("unk", "bos", "eos", "pad")[n2 - 40]] = _int32(v2)
        elif num == 3 and wire == 2:
            for n2, w2, v2 in _fields(val):
                if n2 == 3 and w2 == 0:
                    model.add_dummy_prefix = bool(v2)
    model.trainer_ids = {k: v for k, v in ids.items() if 0 <= v < len(model.pieces)}
    return model
