"""A tiny random Llama GGUF whose rows suit llama.cpp's K-quants, for quant/ tests.

K-quants and IQ4_XS work on blocks of 256 values along a row, so n_embd and n_ff here are
multiples of 256 (the engine tests' tiny model has n_embd = 352 and would only exercise
llama.cpp's fallback types). The vocabulary is the engine tests' (bytes + letters), so
any pt-PT text tokenizes.
"""

from __future__ import annotations

from pathlib import Path

import gguf
import numpy as np
from tiny_gguf import add_vocabulary, vocabulary


def write_quantizable_gguf(
    path: Path,
    *,
    n_embd: int = 256,
    n_ff: int = 512,
    n_layer: int = 2,
    n_head: int = 4,
    n_head_kv: int = 2,
    file_type: gguf.LlamaFileType = gguf.LlamaFileType.MOSTLY_F16,
    seed: int = 0,
) -> Path:
    """A random-weight Llama model stored in f16 (norms in f32), like a converted source."""
    n_vocab = len(vocabulary()[0])
    head_dim = n_embd // n_head
    rng = np.random.default_rng(seed)
    weight_dtype = np.float16 if file_type == gguf.LlamaFileType.MOSTLY_F16 else np.float32

    def rand(*shape: int, scale: float) -> np.ndarray:
        return (rng.standard_normal(shape) * scale).astype(weight_dtype)

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("tiny-quant")
    writer.add_context_length(512)
    writer.add_embedding_length(n_embd)
    writer.add_block_count(n_layer)
    writer.add_feed_forward_length(n_ff)
    writer.add_head_count(n_head)
    writer.add_head_count_kv(n_head_kv)
    writer.add_rope_dimension_count(head_dim)
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_file_type(file_type)
    add_vocabulary(writer)

    n_kv = n_head_kv * head_dim
    ones = np.ones(n_embd, dtype=np.float32)
    # Scales chosen so logits spread over a few nats: distributions that differ visibly
    # between rungs, without saturating softmax.
    writer.add_tensor("token_embd.weight", rand(n_vocab, n_embd, scale=1.0))
    writer.add_tensor("output_norm.weight", ones)
    writer.add_tensor("output.weight", rand(n_vocab, n_embd, scale=0.15))
    for i in range(n_layer):
        p = f"blk.{i}"
        writer.add_tensor(f"{p}.attn_norm.weight", ones)
        writer.add_tensor(f"{p}.attn_q.weight", rand(n_embd, n_embd, scale=0.08))
        writer.add_tensor(f"{p}.attn_k.weight", rand(n_kv, n_embd, scale=0.08))
        writer.add_tensor(f"{p}.attn_v.weight", rand(n_kv, n_embd, scale=0.08))
        writer.add_tensor(f"{p}.attn_output.weight", rand(n_embd, n_embd, scale=0.05))
        writer.add_tensor(f"{p}.ffn_norm.weight", ones)
        writer.add_tensor(f"{p}.ffn_gate.weight", rand(n_ff, n_embd, scale=0.06))
        writer.add_tensor(f"{p}.ffn_up.weight", rand(n_ff, n_embd, scale=0.06))
        writer.add_tensor(f"{p}.ffn_down.weight", rand(n_embd, n_ff, scale=0.04))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
