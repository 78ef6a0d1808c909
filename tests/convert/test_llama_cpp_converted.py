"""A GGUF written by llama.cpp's own converter: the rule is inferred, and ids are still exact.

llama.cpp's ``convert_hf_to_gguf.py`` (from the llama-cpp-python sdist, fetched by
``tests/fetch_llama_cpp.py``) writes no dummy-prefix rule of ours, and its
``add_space_prefix`` (SentencePiece's, true) makes plain llama.cpp put ``▁`` after every
special token, which transformers 5's LlamaTokenizer does not.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import llama_cpp
import pytest
from convert_helpers import chat_template_ids
from convert_samples import SENTENCES
from fetch_llama_cpp import ensure_llama_cpp

from amalia_local.engine.tokenizer import RULE_KEY, SpacePrefix, rule_from_metadata
from amalia_local.model_file import inspect

CHAT = [
    {"role": "user", "content": "Olá! Quanto custa um pastel de nata?"},
    {"role": "assistant", "content": "Custa 1,20 € na padaria da esquina."},
    {"role": "user", "content": "  E o bilhete do elétrico 28?"},
]


@pytest.fixture(scope="module")
def theirs(checkpoint: Callable[[str], Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    llama_cpp_dir = ensure_llama_cpp()
    out = tmp_path_factory.mktemp("llama_cpp") / "theirs.gguf"
    env = {**os.environ, "PYTHONPATH": str(llama_cpp_dir / "gguf-py")}
    result = subprocess.run(
        [
            sys.executable,
            str(llama_cpp_dir / "convert_hf_to_gguf.py"),
            str(checkpoint("tok_spm_model")),
            "--outfile",
            str(out),
            "--outtype",
            "f32",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return out


def test_rule_is_inferred_and_shown(theirs: Path, amalia_json: Callable[..., Any]) -> None:
    model = inspect(theirs)
    assert RULE_KEY not in model.metadata
    rule = rule_from_metadata(model.metadata)
    assert rule is not None and rule.space_prefix is SpacePrefix.FIRST and not rule.stored
    facts = amalia_json("info", str(theirs))["tokenizer"]
    assert facts["space_prefix"] == "first"
    assert facts["space_prefix_source"] == "inferred"
    assert facts["chat_bos"]["template"] is False


def test_ids_exact_through_amalia_tokenize(
    theirs: Path, hf_tokenizer: Callable[[str], Any], amalia_json: Callable[..., Any]
) -> None:
    tok = hf_tokenizer("tok_spm_model")
    rendered = tok.apply_chat_template(CHAT, tokenize=False, add_generation_prompt=True)
    want = chat_template_ids(tok, CHAT)
    got = amalia_json("tokenize", str(theirs), rendered, "--special", "--no-bos")
    assert got["ids"] == want
    # plain llama.cpp on the same file puts "▁" after each special token: not exact
    plain = llama_cpp.Llama(model_path=str(theirs), vocab_only=True, verbose=False)
    assert plain.tokenize(rendered.encode(), add_bos=False, special=True) != want
    for text in [*SENTENCES[:4], "  Começa com dois espaços."]:
        got = amalia_json("tokenize", str(theirs), text)
        assert got["ids"] == tok.encode(text), text
