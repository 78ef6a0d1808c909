"""llama.cpp, reading the vocabulary we wrote, must tokenize exactly like the source tokenizer.

Ids go through the engine's exact path (:class:`ExactTokenizer`), the one every command
uses; where plain llama.cpp can follow the Hugging Face rule by itself, it must too.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import gguf
import llama_cpp
import pytest
from convert_helpers import TOKENIZER_LAYOUTS
from convert_samples import BOUNDARY, SENTENCES

from amalia_local.engine import llama_private
from amalia_local.engine.tokenizer import (
    ExactTokenizer,
    kv_overrides,
    open_vocabulary,
    rule_from_metadata,
)
from amalia_local.model_file import inspect

LAYOUTS = ["spm_model", "json_only", "gqa_tied"]


def _vocab_only(path: Path) -> Any:
    """Plain llama.cpp, as other programs load the file (no overrides)."""
    return llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False)


@pytest.mark.parametrize("variant", LAYOUTS)
def test_ids_equal_hf_tokenizer(
    variant: str, converted: Callable[..., Path], hf_tokenizer: Callable[[str], Any]
) -> None:
    tok = hf_tokenizer(variant)
    model = inspect(converted(variant))
    with open_vocabulary(model.path, model.metadata) as exact:
        for text in SENTENCES + BOUNDARY:
            want = tok.encode(text, add_special_tokens=False)
            assert exact.tokenize(text, add_bos=False) == want, text
        for text in SENTENCES:
            # add-BOS flag and BOS id travel with the file
            want_bos = tok.encode(text)
            assert want_bos[0] == tok.bos_token_id
            assert exact.tokenize(text, add_bos=True, special=False) == want_bos, text


@pytest.mark.parametrize("variant", LAYOUTS)
def test_detokenize_round_trip(variant: str, converted: Callable[..., Path]) -> None:
    """Byte-fallback pieces (emoji, €) reassemble into the original UTF-8."""
    path = converted(variant)
    rule = rule_from_metadata(inspect(path).metadata)
    llm = llama_cpp.Llama(
        model_path=str(path), vocab_only=True, verbose=False, kv_overrides=kv_overrides(rule)
    )
    exact = ExactTokenizer(llama_private.raw_vocab(llm), rule)
    for text in SENTENCES:
        ids = exact.tokenize(text, special=False)
        # llama-cpp-python's detokenize keeps the dummy-prefix space the tokenizer added
        assert llm.detokenize(ids).decode() == " " + text


@pytest.mark.parametrize("layout", sorted(TOKENIZER_LAYOUTS))
def test_plain_llama_cpp_exact_where_it_can_be(
    layout: str, converted: Callable[..., Path], hf_tokenizer: Callable[[str], Any]
) -> None:
    """Other llama.cpp programs read only add_space_prefix; we write the closest value.

    SentencePiece's rule and "never" are llama.cpp's own: everything matches. For "first",
    chat prompts (they start with a special token) match; for "always", text that does
    not start with a space.
    """
    tok = hf_tokenizer(layout)
    path = converted(layout)
    llm = _vocab_only(path)
    rule = rule_from_metadata(inspect(path).metadata)
    assert rule is not None
    texts = {
        "sentencepiece": SENTENCES + BOUNDARY,
        "never": SENTENCES + BOUNDARY,
        "first": [t for t in BOUNDARY if t.startswith("<|")],
        "always": [t for t in SENTENCES if not t.startswith(" ")],
    }[rule.space_prefix.value]
    for text in texts:
        want = tok.encode(text, add_special_tokens=False)
        assert llm.tokenize(text.encode(), add_bos=False, special=True) == want, text


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
    model = inspect(out)
    with open_vocabulary(model.path, model.metadata) as exact:
        differing = [
            t
            for t in SENTENCES
            if exact.tokenize(t, special=False) != tok.encode(t, add_special_tokens=False)
        ]
    assert len(differing) >= len(SENTENCES) // 2, differing


@pytest.mark.parametrize("variant", LAYOUTS)
def test_end_of_generation_tokens(variant: str, converted: Callable[..., Path]) -> None:
    """</s> and <|im_end|> (generation_config.json lists both) stop generation in llama.cpp."""
    llm = _vocab_only(converted(variant))
    vocab = llama_private.raw_vocab(llm)
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
