"""Our protobuf reader of tokenizer.model agrees with the sentencepiece library itself."""

from __future__ import annotations

import sentencepiece as spm

from convert.spm_model import BPE_MODEL, parse_sentencepiece


def test_pieces_scores_types_match_sentencepiece(spm_model_bytes: bytes) -> None:
    sp = spm.SentencePieceProcessor(model_proto=spm_model_bytes)
    model = parse_sentencepiece(spm_model_bytes)
    assert len(model.pieces) == sp.get_piece_size()
    for i, (text, score, kind) in enumerate(model.pieces):
        assert text == sp.id_to_piece(i)
        assert score == sp.get_score(i)
        assert (kind == 2) == sp.is_unknown(i)
        assert (kind == 3) == sp.is_control(i)
        assert (kind == 6) == sp.is_byte(i)
        assert (kind == 5) == sp.is_unused(i)
    assert model.model_type == BPE_MODEL
    assert model.byte_fallback is True
    assert model.add_dummy_prefix is True
    assert model.trainer_ids == {"unk": sp.unk_id(), "bos": sp.bos_id(), "eos": sp.eos_id()}
    # user-defined symbols (our ChatML tokens) keep their type
    assert model.pieces[sp.piece_to_id("<|im_end|>")][2] == 4
