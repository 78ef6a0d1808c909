"""Tiny Llama-architecture GGUF files written with the gguf package, for engine tests.

A "scripted" model makes greedy generation predictable without training: embeddings
are one-hot (n_embd >= n_vocab), every layer's output projections are zero so the
residual stream carries the current token's embedding unchanged, and ``output.weight``
maps token t to the token that should follow it. The model is then a bigram table we
choose, e.g. "after the newline that ends the prompt, say 'Olá, aç€!' then <|im_end|>".
With ``script=None`` all weights are random: a model with no favourite answer, for
seeded-sampling tests.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import gguf
import numpy as np

CHATML = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

SPECIALS = ["<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"]
UNK, BOS, EOS, IM_START, IM_END = range(5)
BYTE_BASE = len(SPECIALS)  # <0x00> is token 5
# Single characters as ordinary pieces; everything else falls back to bytes.
PIECES = (
    ["▁"]
    + [chr(c) for c in range(ord("a"), ord("z") + 1)]
    + [chr(c) for c in range(ord("A"), ord("Z") + 1)]
    + list("0123456789.,!?:;'-()")
    + ["á", "é", "ã", "õ", "ê", "ó", "í", "à"]
)

# What the scripted model answers, token by token (pieces or raw bytes): "Olá, aç€!".
# Each token appears once, so "what follows token t" is well defined. ç and € come out as
# raw UTF-8 bytes, so streaming must hold partial characters back.
ANSWER_TOKENS: list[str | int] = ["O", "l", "á", ",", "▁", "a", 0xC3, 0xA7, 0xE2, 0x82, 0xAC, "!"]
ANSWER_TEXT = "Olá, aç€!"
ANSWER_CHUNKS = ["O", "l", "á", ",", " ", "a", "ç", "€", "!"]


def byte_token(value: int) -> int:
    return BYTE_BASE + value


def vocabulary() -> tuple[list[str], list[float], list[int]]:
    tokens = list(SPECIALS) + [f"<0x{b:02X}>" for b in range(256)] + PIECES
    types = (
        [gguf.TokenType.UNKNOWN]
        + [gguf.TokenType.CONTROL] * 4
        + [gguf.TokenType.BYTE] * 256
        + [gguf.TokenType.NORMAL] * len(PIECES)
    )
    scores = [0.0] * len(tokens)
    return tokens, scores, [int(t) for t in types]


def add_vocabulary(writer: gguf.GGUFWriter) -> None:
    """The test vocabulary as a SentencePiece ("llama") tokenizer, ChatML-ready."""
    tokens, scores, types = vocabulary()
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_bos_token_id(BOS)
    writer.add_eos_token_id(IM_END)
    writer.add_unk_token_id(UNK)
    writer.add_add_bos_token(True)
    writer.add_add_space_prefix(False)


def token_id(piece: str | int) -> int:
    if isinstance(piece, int):
        return byte_token(piece)
    tokens, _, _ = vocabulary()
    return tokens.index(piece)


@dataclass(frozen=True)
class TinySpec:
    scripted: bool = True
    chat_template: str | None = CHATML
    architecture: str = "llama"
    context_length: int = 512
    n_layer: int = 2
    n_head: int = 4
    n_head_kv: int = 2
    n_ff: int = 64
    seed: int = 0
    omit_tensors: tuple[str, ...] = ()  # a structurally valid file llama.cpp will refuse


def write_tiny_gguf(path: Path, spec: TinySpec = TinySpec()) -> Path:
    n_vocab = len(vocabulary()[0])
    n_embd = ((n_vocab + 31) // 32) * 32  # one-hot needs n_embd >= n_vocab
    head_dim = n_embd // spec.n_head
    rng = np.random.default_rng(spec.seed)

    def rand(*shape: int, scale: float = 0.02) -> np.ndarray:
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    writer = gguf.GGUFWriter(str(path), spec.architecture)
    add_tensor = writer.add_tensor

    def keep(name: str, data: np.ndarray) -> None:
        if name not in spec.omit_tensors:
            add_tensor(name, data)

    writer.add_tensor = keep  # type: ignore[method-assign]
    writer.add_name("tiny-scripted" if spec.scripted else "tiny-random")
    writer.add_context_length(spec.context_length)
    writer.add_embedding_length(n_embd)
    writer.add_block_count(spec.n_layer)
    writer.add_feed_forward_length(spec.n_ff)
    writer.add_head_count(spec.n_head)
    writer.add_head_count_kv(spec.n_head_kv)
    writer.add_rope_dimension_count(head_dim)
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    add_vocabulary(writer)
    if spec.chat_template:
        writer.add_chat_template(spec.chat_template)

    n_kv = spec.n_head_kv * head_dim
    if spec.scripted:
        embeddings = np.eye(n_vocab, n_embd, dtype=np.float32)
        output = np.zeros((n_vocab, n_embd), dtype=np.float32)
        chain = [byte_token(ord("\n"))] + [token_id(p) for p in ANSWER_TOKENS] + [IM_END]
        for current, following in itertools.pairwise(chain):
            output[following, current] = 1.0
        zero_out = True
    else:
        embeddings = rand(n_vocab, n_embd, scale=1.0)
        output = rand(n_vocab, n_embd, scale=1.0)
        zero_out = False

    writer.add_tensor("token_embd.weight", embeddings)
    writer.add_tensor("output_norm.weight", np.ones(n_embd, dtype=np.float32))
    writer.add_tensor("output.weight", output)
    for i in range(spec.n_layer):
        p = f"blk.{i}"
        writer.add_tensor(f"{p}.attn_norm.weight", np.ones(n_embd, dtype=np.float32))
        writer.add_tensor(f"{p}.attn_q.weight", rand(n_embd, n_embd))
        writer.add_tensor(f"{p}.attn_k.weight", rand(n_kv, n_embd))
        writer.add_tensor(f"{p}.attn_v.weight", rand(n_kv, n_embd))
        attn_out = np.zeros((n_embd, n_embd), np.float32) if zero_out else rand(n_embd, n_embd)
        writer.add_tensor(f"{p}.attn_output.weight", attn_out)
        writer.add_tensor(f"{p}.ffn_norm.weight", np.ones(n_embd, dtype=np.float32))
        writer.add_tensor(f"{p}.ffn_gate.weight", rand(spec.n_ff, n_embd))
        writer.add_tensor(f"{p}.ffn_up.weight", rand(spec.n_ff, n_embd))
        ffn_down = (
            np.zeros((n_embd, spec.n_ff), np.float32) if zero_out else rand(n_embd, spec.n_ff)
        )
        writer.add_tensor(f"{p}.ffn_down.weight", ffn_down)

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
