"""`amalia tokenize` gives transformers' ids in every tokenizer layout transformers 5 reads.

Each layout is written by transformers (see TOKENIZER_LAYOUTS in conftest), converted by
our converter, and tokenized by the ``amalia`` CLI in-process: a rendered two-turn chat
against ``apply_chat_template``, and plain pt-PT texts (one starting with spaces) against
``tokenizer(text)`` with and without special tokens.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gguf
import llama_cpp
import pytest
from convert_helpers import TOKENIZER_LAYOUTS, chat_template_ids
from convert_samples import BOUNDARY, SENTENCES

from amalia_local.engine import Message
from amalia_local.engine.tokenizer import (
    RULE_KEY,
    ExactTokenizer,
    SpacePrefix,
    TokenizerLoadError,
    c_kv_overrides,
    rule_from_metadata,
)
from amalia_local.model_file import inspect

EXPECTED_RULE = {
    "tok_json_first": "first",
    "tok_json_legacy": "always",
    "tok_spm_model": "first",
    "tok_no_prefix": "never",
    "tok_fast_prepend": "sentencepiece",
    "tok_fast_metaspace": "always",
}
CHAT = [
    {"role": "system", "content": "Responde sempre em português europeu."},
    {"role": "user", "content": "Olá! Quanto custa um pastel de nata?"},
    {"role": "assistant", "content": "Custa 1,20 € na padaria da esquina."},
    {"role": "user", "content": "  E o bilhete do elétrico 28?"},
]
PLAIN = [*SENTENCES[:6], "  Começa com dois espaços.", " Um espaço à frente.", "\nNova linha."]


def test_every_layout_is_listed() -> None:
    assert set(EXPECTED_RULE) == set(TOKENIZER_LAYOUTS)


@pytest.mark.parametrize("layout", sorted(TOKENIZER_LAYOUTS))
def test_converter_stores_the_rule(
    layout: str, converted: Callable[..., Path], amalia_json: Callable[..., Any]
) -> None:
    reader = gguf.GGUFReader(converted(layout))
    field = reader.get_field(RULE_KEY)
    assert field is not None and field.contents() == EXPECTED_RULE[layout]
    facts = amalia_json("info", str(converted(layout)))["tokenizer"]
    assert facts["space_prefix"] == EXPECTED_RULE[layout]
    assert facts["space_prefix_source"] == "stored"
    # ChatML template without BOS: neither transformers nor the engine starts with one
    assert facts["chat_bos"] == {"engine": False, "template": False, "add_bos_token": True}


def test_probe_refuses_a_wrong_rule(
    checkpoint: Callable[[str], Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Were the files misread, transformers' own ids stop the conversion: one line, no file."""
    from convert import prefix_rule
    from convert.cli import main

    monkeypatch.setattr(prefix_rule, "decide", lambda *args: SpacePrefix.SENTENCEPIECE)
    out = tmp_path / "out.gguf"
    code = main([str(checkpoint("tok_json_first")), "-o", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("error: the converted vocabulary (dummy prefix rule 'sentencepiece')")
    assert err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("layout", sorted(TOKENIZER_LAYOUTS))
def test_chat_ids_equal_apply_chat_template(
    layout: str,
    converted: Callable[..., Path],
    hf_tokenizer: Callable[[str], Any],
    amalia_json: Callable[..., Any],
) -> None:
    tok = hf_tokenizer(layout)
    rendered = tok.apply_chat_template(CHAT, tokenize=False, add_generation_prompt=True)
    want = chat_template_ids(tok, CHAT)
    got = amalia_json("tokenize", str(converted(layout)), rendered, "--special", "--no-bos")
    assert got["ids"] == want
    assert got["pieces"] == tok.convert_ids_to_tokens(want)


@pytest.mark.parametrize("layout", sorted(TOKENIZER_LAYOUTS))
def test_text_ids_equal_transformers(
    layout: str,
    converted: Callable[..., Path],
    hf_tokenizer: Callable[[str], Any],
    amalia_json: Callable[..., Any],
) -> None:
    """pt-PT texts with and without BOS; ChatML written by hand (specials parsed), where
    newlines and spaces follow special tokens."""
    tok = hf_tokenizer(layout)
    model = str(converted(layout))
    for text in PLAIN:
        assert amalia_json("tokenize", model, text)["ids"] == tok.encode(text), text
        no_bos = amalia_json("tokenize", model, text, "--no-bos")["ids"]
        assert no_bos == tok.encode(text, add_special_tokens=False), text
    for text in BOUNDARY:
        got = amalia_json("tokenize", model, text, "--special", "--no-bos")["ids"]
        assert got == tok.encode(text, add_special_tokens=False), text


@pytest.mark.parametrize("layout", sorted(TOKENIZER_LAYOUTS))
def test_engine_chat_prompt_equals_apply_chat_template(
    layout: str,
    converted: Callable[..., Path],
    hf_tokenizer: Callable[[str], Any],
    open_engine: Callable[..., Any],
) -> None:
    """What run and the chat feed the model: the GGUF's template, then the engine's path."""
    want = chat_template_ids(hf_tokenizer(layout), CHAT)
    engine = open_engine(converted(layout), n_ctx=256, n_threads=1)
    rendered = engine.template.render([Message(m["role"], m["content"]) for m in CHAT])
    assert engine.prompt_tokens(rendered) == want


def test_c_api_load_with_the_overrides(
    converted: Callable[..., Path], hf_tokenizer: Callable[[str], Any]
) -> None:
    """For code that loads through the C API (serve): c_kv_overrides, then ExactTokenizer.

    "always" files say add_space_prefix true (for plain llama.cpp), which the exact path
    must switch off; a vocabulary loaded without the overrides is refused, not misused.
    """
    path = converted("tok_json_legacy")
    rule = rule_from_metadata(inspect(path).metadata)
    assert rule is not None and rule.space_prefix is SpacePrefix.ALWAYS
    tok = hf_tokenizer("tok_json_legacy")
    rendered = tok.apply_chat_template(CHAT, tokenize=False, add_generation_prompt=True)

    def load(overrides: Any) -> Any:
        params = llama_cpp.llama_model_default_params()
        params.vocab_only = True
        if overrides is not None:
            params.kv_overrides = ctypes.cast(
                overrides, ctypes.POINTER(llama_cpp.llama_model_kv_override)
            )
        model = llama_cpp.llama_model_load_from_file(str(path).encode(), params)
        assert model
        return model

    model = load(c_kv_overrides(rule))
    try:
        exact = ExactTokenizer(llama_cpp.llama_model_get_vocab(model), rule)
        assert exact.tokenize(rendered) == chat_template_ids(tok, CHAT)
        assert exact.tokenize("  Começa") == tok.encode("  Começa", add_special_tokens=False)
    finally:
        llama_cpp.llama_model_free(model)
    model = load(None)
    try:
        with pytest.raises(TokenizerLoadError):
            ExactTokenizer(llama_cpp.llama_model_get_vocab(model), rule)
    finally:
        llama_cpp.llama_model_free(model)
