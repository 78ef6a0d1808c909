"""llama.cpp, reading the vocabulary we wrote, must tokenize exactly like the source tokenizer."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import gguf
import llama_cpp
import pytest
import sentencepiece as spm
import tokenizers
from convert_samples import BOUNDARY, SENTENCES

LAYOUTS = ["spm_model", "json_only", "gqa_tied"]


def _vocab_only(path: Path) -> Any:
    return llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False)


@pytest.mark.parametrize("variant", LAYOUTS)
def test_ids_equal_hf_tokenizer(
    variant: str, converted: Callable[..., Path], hf_tokenizer: Callable[[str], Any]
) -> None:
    tok = hf_tokenizer(variant)
    llm = _vocab_only(converted(variant))
    for text in SENTENCES:
        want = tok.encode(text, add_special_tokens=False)
        assert llm.tokenize(text.encode(), add_bos=False, special=False) == want, text
        # add-BOS flag and BOS id travel with the file
        want_bos = tok.encode(text)
        assert want_bos[0] == tok.bos_token_id
        assert llm.tokenize(text.encode(), add_bos=True, special=False) == want_bos, text


@pytest.mark.parametrize("variant", LAYOUTS)
def test_detokenize_round_trip(variant: str, converted: Callable[..., Path]) -> None:
    """Byte-fallback pieces (emoji, €) reassemble into the original UTF-8."""
    llm = _vocab_only(converted(variant))
    for text in SENTENCES:
        ids = llm.tokenize(text.encode(), add_bos=False, special=False)
        # llama-cpp-python's detokenize keeps the dummy-prefix space SentencePiece added
        assert llm.detokenize(ids).decode() == " " + text


def test_boundaries_follow_sentencepiece(
    checkpoint: Callable[[str], Path], converted: Callable[..., Path]
) -> None:
    """Leading spaces and text after special tokens: equal to SentencePiece itself.

    There transformers 5's LlamaTokenizer differs from SentencePiece (see BOUNDARY in
    conftest); llama.cpp's rule (dummy prefix before every run of text) is fixed in its
    code, so the right target for the vocabulary is the original model.
    """
    sp = spm.SentencePieceProcessor(model_file=str(checkpoint("spm_model") / "tokenizer.model"))
    llm = _vocab_only(converted("spm_model"))
    for text in BOUNDARY:
        want: list[int] = []
        # SentencePiece has no notion of special tokens in text: encode between them
        for part in _split_specials(text, ["<|im_start|>", "<|im_end|>"]):
            want += [sp.piece_to_id(part)] if part.startswith("<|") else sp.encode(part)
        assert llm.tokenize(text.encode(), add_bos=False, special=True) == want, text


def test_legacy_tokenizer_json_matches_everywhere(
    checkpoint: Callable[[str], Path], converted: Callable[..., Path]
) -> None:
    """A transformers-4 style tokenizer.json (EuroLLM's vintage) agrees on every input."""
    tok = tokenizers.Tokenizer.from_file(str(checkpoint("gqa_tied") / "tokenizer.json"))
    llm = _vocab_only(converted("gqa_tied"))
    for text in SENTENCES + BOUNDARY:
        want = tok.encode(text, add_special_tokens=False).ids
        assert llm.tokenize(text.encode(), add_bos=False, special=True) == want, text


def _split_specials(text: str, specials: list[str]) -> list[str]:
    parts = [text]
    for s in specials:
        parts = [q for p in parts for q in _keep_split(p, s)]
    return [p for p in parts if p]


def _keep_split(text: str, sep: str) -> list[str]:
    pieces = text.split(sep)
    out: list[str] = []
    for i, p in enumerate(pieces):
        if i:
            out.append(sep)
        out.append(p)
    return out


def test_naive_scores_break_parity(
    checkpoint: Callable[[str], Path],
    hf_tokenizer: Callable[[str], Any],
    tmp_path: Path,
) -> None:
    """The trap this converter avoids: tokenizer.json-only vocabularies need merge-rank scores.

    Same vocabulary, same file, but every score set to one constant (what a converter
    that ignores the merge list writes): llama.cpp then merges leftmost-first and
    tokenizes ordinary pt-PT sentences differently from Hugging Face.
    """
    from convert.core import prepare, write_gguf
    from convert.tensors import OutType

    prep = prepare(checkpoint("json_only"), OutType.F16)
    prep.vocab.scores = [-1000.0] * len(prep.vocab.scores)
    out = tmp_path / "naive.gguf"
    write_gguf(prep, out, show_progress=False)
    tok = hf_tokenizer("json_only")
    llm = _vocab_only(out)
    differing = [
        t
        for t in SENTENCES
        if llm.tokenize(t.encode(), add_bos=False) != tok.encode(t, add_special_tokens=False)
    ]
    assert len(differing) >= len(SENTENCES) // 2, differing


@pytest.mark.parametrize("variant", LAYOUTS)
def test_end_of_generation_tokens(variant: str, converted: Callable[..., Path]) -> None:
    """</s> and <|im_end|> (generation_config.json lists both) stop generation in llama.cpp."""
    llm = _vocab_only(converted(variant))
    vocab = llama_cpp.llama_model_get_vocab(llm.model)
    ids = {
        t: llm.tokenize(t.encode(), add_bos=False, special=True)
        for t in ("</s>", "<|im_end|>", "<|im_start|>", "<s>")
    }
    assert all(len(v) == 1 for v in ids.values()), ids
    assert llama_cpp.llama_vocab_is_eog(vocab, ids["</s>"][0])
    assert llama_cpp.llama_vocab_is_eog(vocab, ids["<|im_end|>"][0])
    assert not llama_cpp.llama_vocab_is_eog(vocab, ids["<|im_start|>"][0])
    assert not llama_cpp.llama_vocab_is_eog(vocab, ids["<s>"][0])
    reader = gguf.GGUFReader(converted(variant))
    eot = reader.get_field(gguf.Keys.Tokenizer.EOT_ID)
    assert eot is not None and eot.contents() == ids["<|im_end|>"][0]
    # special tokens are not split out of text unless asked for
    assert len(llm.tokenize(b"<|im_end|>", add_bos=False, special=False)) > 1
