"""What the converter writes besides weights: hyper-parameters, naming, vocabulary keys."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gguf
import numpy as np
import pytest
import torch
import transformers
from convert_samples import CHAT_TEMPLATE

from amalia_local.engine.tokenizer import RULE_KEY

K = gguf.Keys
ARCH = gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.LLAMA]


def _fields(path: Path) -> dict[str, Any]:
    reader = gguf.GGUFReader(path)
    return {name: f.contents() for name, f in reader.fields.items()}


def _key(template: str) -> str:
    return template.format(arch=ARCH)


def test_hyperparameters_gqa(
    converted: Callable[..., Path], checkpoint: Callable[[str], Path]
) -> None:
    cfg = json.loads((checkpoint("gqa_tied") / "config.json").read_text())
    f = _fields(converted("gqa_tied"))
    assert f[K.General.ARCHITECTURE] == ARCH
    assert f[_key(K.LLM.CONTEXT_LENGTH)] == cfg["max_position_embeddings"]
    assert f[_key(K.LLM.EMBEDDING_LENGTH)] == cfg["hidden_size"]
    assert f[_key(K.LLM.BLOCK_COUNT)] == cfg["num_hidden_layers"]
    assert f[_key(K.LLM.FEED_FORWARD_LENGTH)] == cfg["intermediate_size"]
    assert f[_key(K.Attention.HEAD_COUNT)] == 8
    assert f[_key(K.Attention.HEAD_COUNT_KV)] == 2
    assert f[_key(K.Rope.DIMENSION_COUNT)] == cfg["head_dim"]
    assert f[_key(K.Attention.LAYERNORM_RMS_EPS)] == pytest.approx(cfg["rms_norm_eps"])
    assert f[_key(K.Rope.FREQ_BASE)] == pytest.approx(10000.0)
    assert _key(K.Rope.SCALING_TYPE) not in f


def test_general_naming_license_filetype(converted: Callable[..., Path]) -> None:
    f = _fields(converted("spm_model", "q8_0"))
    assert f[K.General.NAME].startswith("spm_model")
    assert f[K.General.LICENSE] == "apache-2.0"
    assert f[K.General.FILE_TYPE] == gguf.LlamaFileType.MOSTLY_Q8_0
    assert f[K.General.QUANTIZATION_VERSION] == gguf.GGML_QUANT_VERSION
    assert _fields(converted("spm_model"))[K.General.FILE_TYPE] == gguf.LlamaFileType.ALL_F32


@pytest.mark.parametrize(
    ("outtype", "weight_type"),
    [
        ("f32", gguf.GGMLQuantizationType.F32),
        ("f16", gguf.GGMLQuantizationType.F16),
        ("bf16", gguf.GGMLQuantizationType.BF16),
        ("q8_0", gguf.GGMLQuantizationType.Q8_0),
    ],
)
def test_tensor_types_and_tied_output(
    outtype: str, weight_type: gguf.GGMLQuantizationType, converted: Callable[..., Path]
) -> None:
    tensors = {t.name: t for t in gguf.GGUFReader(converted("gqa_tied", outtype)).tensors}
    # tied embeddings: no separate output matrix; llama.cpp reuses token_embd
    assert "output.weight" not in tensors
    assert "token_embd.weight" in tensors
    for name, t in tensors.items():
        want = gguf.GGMLQuantizationType.F32 if len(t.shape) == 1 else weight_type
        assert t.tensor_type == want, name


def test_bf16_is_a_bit_exact_copy(
    converted: Callable[..., Path], checkpoint: Callable[[str], Path]
) -> None:
    """bf16 → bf16 copies bits; only Q/K rows are reordered (undoing HF's RoPE layout)."""
    model = transformers.LlamaForCausalLM.from_pretrained(
        checkpoint("spm_model"), dtype=torch.bfloat16
    )
    sd = model.state_dict()
    tensors = {t.name: t for t in gguf.GGUFReader(converted("spm_model", "bf16")).tensors}
    v = sd["model.layers.1.self_attn.v_proj.weight"].view(torch.int16).numpy()
    assert np.array_equal(tensors["blk.1.attn_v.weight"].data.view(np.int16), v)
    q = sd["model.layers.0.self_attn.q_proj.weight"].view(torch.int16).numpy()
    got = tensors["blk.0.attn_q.weight"].data.view(np.int16)
    heads, hd = 4, q.shape[0] // 4
    # head 0: GGUF row 2i is HF row i, GGUF row 2i+1 is HF row i + head_dim/2
    assert np.array_equal(got[0], q[0]) and np.array_equal(got[1], q[hd // 2])
    assert np.array_equal(got[2], q[1]) and np.array_equal(got[hd + 1], q[hd + hd // 2])
    assert sorted(map(bytes, got)) == sorted(map(bytes, q))  # a permutation, nothing lost
    assert heads * hd == q.shape[0]


@pytest.mark.parametrize("variant", ["rope_linear", "rope_yarn"])
def test_rope_scaling_keys(variant: str, converted: Callable[..., Path]) -> None:
    f = _fields(converted(variant))
    kind = variant.removeprefix("rope_")
    assert f[_key(K.Rope.SCALING_TYPE)] == kind
    assert f[_key(K.Rope.SCALING_FACTOR)] == pytest.approx(2.0 if kind == "linear" else 4.0)
    if kind == "yarn":
        assert f[_key(K.Rope.SCALING_ORIG_CTX_LEN)] == 64


def test_llama3_rope_factors_match_transformers(
    converted: Callable[..., Path], checkpoint: Callable[[str], Path]
) -> None:
    """rope_freqs holds base_freq / scaled_freq, computed here independently by transformers."""
    config = transformers.AutoConfig.from_pretrained(checkpoint("rope_llama3"))
    rotary = transformers.models.llama.modeling_llama.LlamaRotaryEmbedding(config)
    base = 1.0 / (500000.0 ** (np.arange(0, 16, 2, dtype=np.float64) / 16))
    want = base / rotary.inv_freq.double().numpy()
    tensors = {t.name: t for t in gguf.GGUFReader(converted("rope_llama3")).tensors}
    got = np.asarray(tensors["rope_freqs.weight"].data, dtype=np.float64)
    assert got == pytest.approx(want, rel=1e-5)
    assert got.max() == pytest.approx(8.0) and got.min() == pytest.approx(1.0)


@pytest.mark.parametrize("variant", ["spm_model", "json_only"])
def test_tokenizer_keys(variant: str, converted: Callable[..., Path]) -> None:
    reader = gguf.GGUFReader(converted(variant))
    f = {name: fld.contents() for name, fld in reader.fields.items()}
    tokens = f[K.Tokenizer.LIST]
    types = f[K.Tokenizer.TOKEN_TYPE]
    assert f[K.Tokenizer.MODEL] == "llama"
    assert len(tokens) == len(types) == len(f[K.Tokenizer.SCORES]) == 600
    assert f[K.Tokenizer.BOS_ID] == tokens.index("<s>") == 1
    assert f[K.Tokenizer.EOS_ID] == tokens.index("</s>") == 2
    assert f[K.Tokenizer.UNK_ID] == tokens.index("<unk>") == 0
    assert f[K.Tokenizer.EOT_ID] == tokens.index("<|im_end|>")
    assert f[K.Tokenizer.ADD_BOS] is True
    # transformers 5's LlamaTokenizer (legacy unset): "▁" only at the start of the input,
    # which plain llama.cpp comes closest to without a prefix (chat prompts then match)
    assert f[RULE_KEY] == "first"
    assert f[K.Tokenizer.ADD_PREFIX] is False
    assert f[K.Tokenizer.CHAT_TEMPLATE] == CHAT_TEMPLATE
    T = gguf.TokenType
    assert types[tokens.index("<|im_start|>")] == T.CONTROL
    assert types[tokens.index("<|im_end|>")] == T.CONTROL
    assert types[tokens.index("<unk>")] == T.UNKNOWN
    assert types[tokens.index("<0x0A>")] == T.BYTE
    assert sum(t == T.BYTE for t in types) == 256
    assert types[tokens.index("\u2581de")] == T.NORMAL


def test_scores_from_merges_preserve_sentencepiece_order(converted: Callable[..., Path]) -> None:
    """tokenizer.json's merge ranks reproduce the order of the .model's own scores."""
    spm_f = _fields(converted("spm_model"))
    json_f = _fields(converted("json_only"))
    assert spm_f[K.Tokenizer.LIST] == json_f[K.Tokenizer.LIST]
    merged = [
        i
        for i, (tok, ty) in enumerate(
            zip(spm_f[K.Tokenizer.LIST], spm_f[K.Tokenizer.TOKEN_TYPE], strict=True)
        )
        if ty == gguf.TokenType.NORMAL and len(tok) > 1
    ]
    a = np.array([spm_f[K.Tokenizer.SCORES][i] for i in merged])
    b = np.array([json_f[K.Tokenizer.SCORES][i] for i in merged])
    assert np.array_equal(np.argsort(-a, kind="stable"), np.argsort(-b, kind="stable"))


def test_padded_vocabulary_and_explicit_head_dim(converted: Callable[..., Path]) -> None:
    """Embedding rows beyond the tokenizer get UNUSED names; head_dim != hidden/heads is kept."""
    f = _fields(converted("mistral_padded"))
    tokens, types = f[K.Tokenizer.LIST], f[K.Tokenizer.TOKEN_TYPE]
    assert len(tokens) == 608
    assert tokens[600:] == [f"[PAD{i}]" for i in range(600, 608)]
    assert all(t == gguf.TokenType.UNUSED for t in types[600:])
    assert f[_key(K.Attention.KEY_LENGTH)] == f[_key(K.Attention.VALUE_LENGTH)] == 32
    assert f[_key(K.Rope.DIMENSION_COUNT)] == 32
    assert f[K.General.ARCHITECTURE] == ARCH


def test_single_file_checkpoint_with_biases(
    checkpoint: Callable[[str], Path], converted: Callable[..., Path]
) -> None:
    ckpt = checkpoint("rope_yarn")
    assert (ckpt / "model.safetensors").is_file()
    assert not (ckpt / "model.safetensors.index.json").exists()
    names = {t.name for t in gguf.GGUFReader(converted("rope_yarn")).tensors}
    for bias in ("attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"):
        assert f"blk.1.{bias}.bias" in names
