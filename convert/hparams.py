"""config.json → the hyper-parameters llama.cpp needs, as GGUF metadata.

Only decoder-only Llama-family checkpoints are accepted: those whose tensors and
attention are exactly llama.cpp's ``llama`` architecture. Everything read from the
config is validated here, once, so later stages can trust the numbers (tensor shapes
are checked against them before a single byte is written).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gguf
import numpy as np

from convert.errors import CorruptCheckpointError, MissingFileError, UnsupportedError

# Hugging Face architecture name -> llama.cpp architecture. Mistral (v0.1-v0.3 style)
# checkpoints have exactly Llama's tensors; their sliding window is not modelled by
# llama.cpp's llama architecture, so it is ignored, as llama.cpp itself does.
SUPPORTED_ARCHITECTURES: dict[str, gguf.MODEL_ARCH] = {
    "LlamaForCausalLM": gguf.MODEL_ARCH.LLAMA,
    "MistralForCausalLM": gguf.MODEL_ARCH.LLAMA,
}


@dataclass(frozen=True)
class RopeScaling:
    """Normalised RoPE scaling, whichever of the two config spellings it came from."""

    kind: str = "none"  # none | linear | yarn | llama3
    factor: float = 1.0
    original_context: int | None = None
    low_freq_factor: float = 1.0
    high_freq_factor: float = 4.0
    beta_fast: float | None = None
    beta_slow: float | None = None
    attention_factor: float | None = None


@dataclass(frozen=True)
class ModelConfig:
    """The subset of config.json that defines the GGUF file."""

    hf_architecture: str
    arch: gguf.MODEL_ARCH
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    context_length: int
    rms_eps: float
    rope_theta: float
    rope: RopeScaling = field(default_factory=RopeScaling)
    tie_embeddings: bool = False
    name_or_path: str | None = None

    @property
    def arch_name(self) -> str:
        return gguf.MODEL_ARCH_NAMES[self.arch]


def _require(cfg: dict[str, Any], key: str) -> Any:
    if key not in cfg:
        raise CorruptCheckpointError(f"config.json has no {key!r}")
    return cfg[key]


def _rope_scaling(cfg: dict[str, Any]) -> tuple[RopeScaling, float]:
    """Read RoPE base and scaling from ``rope_scaling`` (old) or ``rope_parameters`` (new)."""
    params = cfg.get("rope_parameters") or cfg.get("rope_scaling") or {}
    if not isinstance(params, dict):
        raise CorruptCheckpointError("config.json rope_scaling/rope_parameters is not an object")
    # newer transformers may nest per attention kind; Llama has only full attention
    params = params.get("full_attention", params)
    theta = float(params.get("rope_theta", cfg.get("rope_theta", 10000.0)))
    kind = str(params.get("rope_type", params.get("type", "default"))).lower()
    if kind in ("default", "none"):
        return RopeScaling(), theta
    factor = float(params.get("factor", 1.0))
    orig = params.get("original_max_position_embeddings")
    if kind == "linear":
        return RopeScaling("linear", factor), theta
    if kind == "yarn":
        if orig is None:
            orig = int(cfg.get("max_position_embeddings", 0) / factor) or None
        return RopeScaling(
            "yarn",
            factor,
            int(orig) if orig else None,
            beta_fast=params.get("beta_fast"),
            beta_slow=params.get("beta_slow"),
            attention_factor=params.get("attention_factor", params.get("attn_factor")),
        ), theta
    if kind == "llama3":
        return RopeScaling(
            "llama3",
            factor,
            int(orig) if orig is not None else 8192,
            low_freq_factor=float(params.get("low_freq_factor", 1.0)),
            high_freq_factor=float(params.get("high_freq_factor", 4.0)),
        ), theta
    raise UnsupportedError(
        f"RoPE scaling type {kind!r} is not supported (supported: none, linear, yarn, llama3)"
    )


def load_config(model_dir: Path) -> ModelConfig:
    """Parse and validate config.json; refuses architectures llama.cpp's llama arch can't run."""
    try:
        return _load_config(model_dir)
    except (KeyError, TypeError, ValueError, AttributeError, ZeroDivisionError) as e:
        raise CorruptCheckpointError(f"config.json is malformed ({type(e).__name__}: {e})") from e


def _load_config(model_dir: Path) -> ModelConfig:
    path = model_dir / "config.json"
    if not path.is_file():
        raise MissingFileError(f"config.json not found in {model_dir}")
    try:
        cfg = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CorruptCheckpointError(f"config.json is not valid JSON ({e})") from e
    if not isinstance(cfg, dict):
        raise CorruptCheckpointError("config.json is not a JSON object")

    archs = cfg.get("architectures") or []
    supported = ", ".join(SUPPORTED_ARCHITECTURES)
    if not archs:
        raise UnsupportedError(f"config.json names no architecture (supported: {supported})")
    hf_arch = archs[0]
    if hf_arch not in SUPPORTED_ARCHITECTURES:
        raise UnsupportedError(f"architecture {hf_arch} is not supported (supported: {supported})")

    hidden = int(_require(cfg, "hidden_size"))
    heads = int(_require(cfg, "num_attention_heads"))
    kv_heads = int(cfg.get("num_key_value_heads") or heads)
    head_dim = int(cfg.get("head_dim") or hidden // heads)
    if heads % kv_heads != 0:
        raise CorruptCheckpointError(
            f"num_attention_heads ({heads}) is not a multiple of num_key_value_heads ({kv_heads})"
        )
    if head_dim % 2 != 0:
        raise CorruptCheckpointError(f"head_dim {head_dim} must be even for RoPE")
    rope, theta = _rope_scaling(cfg)
    return ModelConfig(
        hf_architecture=hf_arch,
        arch=SUPPORTED_ARCHITECTURES[hf_arch],
        vocab_size=int(_require(cfg, "vocab_size")),
        hidden_size=hidden,
        intermediate_size=int(_require(cfg, "intermediate_size")),
        num_layers=int(_require(cfg, "num_hidden_layers")),
        num_heads=heads,
        num_kv_heads=kv_heads,
        head_dim=head_dim,
        context_length=int(cfg.get("max_position_embeddings", 4096)),
        rms_eps=float(cfg.get("rms_norm_eps", 1e-6)),
        rope_theta=theta,
        rope=rope,
        tie_embeddings=bool(cfg.get("tie_word_embeddings", False)),
        name_or_path=cfg.get("_name_or_path") or None,
    )


def llama3_rope_factors(cfg: ModelConfig) -> np.ndarray:
    """Per-frequency divisors llama.cpp applies for Llama-3.1-style RoPE scaling.

    llama.cpp divides each rotary frequency by ``rope_freqs[i]``. Llama 3.1 keeps high
    frequencies (short wavelengths) unchanged, divides low frequencies by ``factor`` and
    blends linearly in between, so the divisor is 1, ``factor``, or the reciprocal of the
    blended multiplier.
    """
    r = cfg.rope
    assert r.kind == "llama3" and r.original_context is not None
    exponents = np.arange(0, cfg.head_dim, 2, dtype=np.float64) / cfg.head_dim
    freqs = 1.0 / (cfg.rope_theta**exponents)
    wavelen = 2 * math.pi / freqs
    short = r.original_context / r.high_freq_factor
    long_ = r.original_context / r.low_freq_factor
    smooth = (r.original_context / wavelen - r.low_freq_factor) / (
        r.high_freq_factor - r.low_freq_factor
    )
    blended = 1.0 / ((1 - smooth) / r.factor + smooth)
    out = np.where(wavelen < short, 1.0, np.where(wavelen > long_, r.factor, blended))
    return out.astype(np.float32)


def add_hparams(writer: gguf.GGUFWriter, cfg: ModelConfig) -> None:
    """Write every architecture hyper-parameter llama.cpp reads for ``llama``."""
    writer.add_vocab_size(cfg.vocab_size)
    writer.add_context_length(cfg.context_length)
    writer.add_embedding_length(cfg.hidden_size)
    writer.add_block_count(cfg.num_layers)
    writer.add_feed_forward_length(cfg.intermediate_size)
    writer.add_head_count(cfg.num_heads)
    writer.add_head_count_kv(cfg.num_kv_heads)
    writer.add_layer_norm_rms_eps(cfg.rms_eps)
    writer.add_rope_freq_base(cfg.rope_theta)
    writer.add_rope_dimension_count(cfg.head_dim)
    # llama.cpp derives the head size from embedding/heads unless told otherwise
    if cfg.head_dim != cfg.hidden_size // cfg.num_heads:
        writer.add_key_length(cfg.head_dim)
        writer.add_value_length(cfg.head_dim)
    r = cfg.rope
    if r.kind == "linear":
        writer.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        writer.add_rope_scaling_factor(r.factor)
    elif r.kind == "yarn":
        writer.add_rope_scaling_type(gguf.RopeScalingType.YARN)
        writer.add_rope_scaling_factor(r.factor)
        if r.original_context:
            writer.add_rope_scaling_orig_ctx_len(r.original_context)
        if r.beta_fast is not None:
            writer.add_rope_scaling_yarn_beta_fast(float(r.beta_fast))
        if r.beta_slow is not None:
            writer.add_rope_scaling_yarn_beta_slow(float(r.beta_slow))
        if r.attention_factor is not None:
            writer.add_rope_scaling_yarn_attn_factor(float(r.attention_factor))
    # llama3 scaling travels as the rope_freqs tensor (see tensors.py), not as keys


def read_license(model_dir: Path) -> str | None:
    """The ``license:`` field of the model card's YAML front matter, if there is one."""
    card = model_dir / "README.md"
    if not card.is_file():
        return None
    lines = card.read_text(encoding="utf-8", errors="replace").splitlines()
    if not lines or lines[0].strip() != "---":
        return None
    for line in lines[1:]:
        if line.strip() == "---":
            break
        key, _, value = line.partition(":")
        if key.strip() == "license" and value.strip():
            return value.strip().strip("'\"")
    return None
