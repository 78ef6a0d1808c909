"""Tokenizer layouts for the converter tests, importable by test modules.

Test modules import these from here, never from ``conftest``: several conftest modules
share that name, and which one ``import conftest`` finds depends on the order pytest
loaded them.
"""

from __future__ import annotations

from typing import Any


def prepend_normalizer(tok: dict[str, Any]) -> None:
    """EuroLLM's tokenizer.json pipeline: a ``Prepend "▁"`` normalizer, no pre-tokenizer."""
    tok["normalizer"] = {
        "type": "Sequence",
        "normalizers": [
            {"type": "Prepend", "prepend": "\u2581"},
            {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"},
        ],
    }
    tok["pre_tokenizer"] = None


def metaspace_pretokenizer(tok: dict[str, Any]) -> None:
    """A Metaspace pre-tokenizer as the ``tokenizers`` library defaults it (always, split)."""
    tok["normalizer"] = None
    tok["pre_tokenizer"] = {
        "type": "Metaspace",
        "replacement": "\u2581",
        "prepend_scheme": "always",
        "split": True,
    }


# The tokenizer layouts transformers 5 reads differently (the dummy-prefix rule each
# triggers in brackets); each must tokenize exactly like transformers through our engine.
FAST = "PreTrainedTokenizerFast"
TOKENIZER_LAYOUTS: dict[str, dict[str, Any]] = {
    # tokenizer.json only, legacy: false [first]
    "tok_json_first": {"layout": "json", "tokenizer_config": {"legacy": False}},
    # tokenizer.json only, legacy: true [always]
    "tok_json_legacy": {"layout": "json", "tokenizer_config": {"legacy": True}},
    # tokenizer.model present [first]
    "tok_spm_model": {"layout": "model"},
    # add_prefix_space: false [never]
    "tok_no_prefix": {"layout": "json", "tokenizer_config": {"add_prefix_space": False}},
    # PreTrainedTokenizerFast with EuroLLM's Prepend normalizer [sentencepiece]
    "tok_fast_prepend": {
        "layout": "json",
        "tokenizer_config": {"tokenizer_class": FAST},
        "rewrite_json": prepend_normalizer,
    },
    # PreTrainedTokenizerFast with a Metaspace pre-tokenizer [always]
    "tok_fast_metaspace": {
        "layout": "json",
        "tokenizer_config": {"tokenizer_class": FAST},
        "rewrite_json": metaspace_pretokenizer,
    },
}


def chat_template_ids(tok: Any, chat: list[dict[str, str]]) -> list[int]:
    """transformers' ids for a chat (apply_chat_template returns a list or a BatchEncoding)."""
    ids = tok.apply_chat_template(chat, tokenize=True, add_generation_prompt=True)
    return list(ids["input_ids"] if hasattr(ids, "keys") else ids)
