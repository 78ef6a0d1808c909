"""Benchmark: our converter against llama.cpp's convert_hf_to_gguf.py, and our memory flatness.

Not collected by pytest. Run from the repository root:

    python tests/benchmarks/bench_convert.py [--llama-cpp DIR] [--work DIR] [--keep]

1. Writes a synthetic Llama checkpoint of about 2.1 GB (bf16 safetensors in 3 shards,
   grouped-query attention, a SentencePiece tokenizer.model built from random pieces),
   converts it to f16 with ours and with llama.cpp's reference converter (``DIR`` is
   the llama-cpp-python source distribution's ``vendor/llama.cpp``; it needs torch),
   and prints wall time and peak RSS side by side.
2. Converts three checkpoints that differ only in the vocabulary size, so that the
   largest tensor (the token embedding, 4096 wide) grows from 32 MB to 1 GB, and shows
   our peak RSS stays flat.

Peak RSS is the child's ``ru_maxrss`` (includes memory-mapped file pages it touched),
measured in a fresh wrapper process per run so maxima do not leak between runs. The
checkpoint is read once beforehand so that both converters start with a warm page cache.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_LLAMA_CPP = Path("/work/cache/sdist/llama_cpp_python-0.3.36/vendor/llama.cpp")
DEFAULT_WORK = Path("/work/cache/bench")

# ------------------------------------------------------------------ synthetic checkpoints


@dataclass(frozen=True)
class Shape:
    vocab: int
    hidden: int
    ffn: int
    layers: int
    heads: int
    kv_heads: int
    tied: bool = False

    def tensors(self) -> Iterator[tuple[str, tuple[int, ...]]]:
        hd = self.hidden // self.heads
        yield "model.embed_tokens.weight", (self.vocab, self.hidden)
        for i in range(self.layers):
            p = f"model.layers.{i}."
            yield p + "input_layernorm.weight", (self.hidden,)
            yield p + "self_attn.q_proj.weight", (self.heads * hd, self.hidden)
            yield p + "self_attn.k_proj.weight", (self.kv_heads * hd, self.hidden)
            yield p + "self_attn.v_proj.weight", (self.kv_heads * hd, self.hidden)
            yield p + "self_attn.o_proj.weight", (self.hidden, self.heads * hd)
            yield p + "post_attention_layernorm.weight", (self.hidden,)
            yield p + "mlp.gate_proj.weight", (self.ffn, self.hidden)
            yield p + "mlp.up_proj.weight", (self.ffn, self.hidden)
            yield p + "mlp.down_proj.weight", (self.hidden, self.ffn)
        yield "model.norm.weight", (self.hidden,)
        if not self.tied:
            yield "lm_head.weight", (self.vocab, self.hidden)


def _bf16_chunks(n: int, rng: np.random.Generator, norm: bool) -> Iterator[bytes]:
    """n bf16 values (weights ~N(0, 0.02), norms ~1) in chunks of at most 8M values."""
    step = 8 << 20
    for start in range(0, n, step):
        k = min(step, n - start)
        x = rng.standard_normal(k, dtype=np.float32) * np.float32(0.02)
        if norm:
            x += np.float32(1.0)
        yield (x.view(np.uint32) >> 16).astype(np.uint16).tobytes()


def write_safetensors(path: Path, tensors: list[tuple[str, tuple[int, ...]]], seed: int) -> None:
    """Stream a bf16 safetensors file without holding more than one chunk in memory."""
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, shape in tensors:
        n = int(np.prod(shape)) * 2
        header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    rng = np.random.default_rng(seed)
    with open(path, "wb") as f:
        f.write(len(raw).to_bytes(8, "little"))
        f.write(raw)
        for name, shape in tensors:
            for chunk in _bf16_chunks(int(np.prod(shape)), rng, name.endswith("norm.weight")):
                f.write(chunk)


def write_sentencepiece(path: Path, n_pieces: int, seed: int) -> None:
    """A valid SentencePiece BPE model with byte fallback and random word pieces."""
    from sentencepiece import sentencepiece_model_pb2 as pb

    m = pb.ModelProto()
    P = pb.ModelProto.SentencePiece
    for text, kind in (("<unk>", P.UNKNOWN), ("<s>", P.CONTROL), ("</s>", P.CONTROL)):
        m.pieces.add(piece=text, score=0.0, type=kind)
    for b in range(256):
        m.pieces.add(piece=f"<0x{b:02X}>", score=0.0, type=P.BYTE)
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyzáéíóúãõç"))
    seen: set[str] = set()
    while len(m.pieces) < n_pieces:
        word = "\u2581" + "".join(rng.choice(letters, size=int(rng.integers(1, 8))))
        if word not in seen:
            seen.add(word)
            m.pieces.add(piece=word, score=-float(len(m.pieces)), type=P.NORMAL)
    m.trainer_spec.model_type = pb.TrainerSpec.BPE
    m.trainer_spec.byte_fallback = True
    m.trainer_spec.vocab_size = n_pieces
    m.normalizer_spec.name = "identity"
    m.normalizer_spec.add_dummy_prefix = True
    m.normalizer_spec.remove_extra_whitespaces = False
    path.write_bytes(m.SerializeToString())


def make_checkpoint(dest: Path, shape: Shape, shards: int, n_pieces: int) -> int:
    """Write config, tokenizer and sharded weights; returns the weights' byte size."""
    dest.mkdir(parents=True, exist_ok=True)
    config = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": shape.vocab,
        "hidden_size": shape.hidden,
        "intermediate_size": shape.ffn,
        "num_hidden_layers": shape.layers,
        "num_attention_heads": shape.heads,
        "num_key_value_heads": shape.kv_heads,
        "max_position_embeddings": 4096,
        "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0,
        "tie_word_embeddings": shape.tied,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "torch_dtype": "bfloat16",
    }
    (dest / "config.json").write_text(json.dumps(config, indent=1))
    (dest / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "bos_token": "<s>",
                "eos_token": "</s>",
                "unk_token": "<unk>",
                "add_bos_token": True,
                "tokenizer_class": "LlamaTokenizer",
            }
        )
    )
    write_sentencepiece(dest / "tokenizer.model", n_pieces, seed=1)
    tensors = list(shape.tensors())
    sizes = [int(np.prod(s)) * 2 for _, s in tensors]
    target = sum(sizes) / shards
    groups: list[list[tuple[str, tuple[int, ...]]]] = [[]]
    acc = 0
    for t, size in zip(tensors, sizes, strict=True):
        if acc >= target * len(groups) and len(groups) < shards:
            groups.append([])
        groups[-1].append(t)
        acc += size
    weight_map = {}
    for i, group in enumerate(groups):
        name = f"model-{i + 1:05d}-of-{len(groups):05d}.safetensors"
        write_safetensors(dest / name, group, seed=100 + i)
        weight_map.update({t: name for t, _ in group})
    (dest / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {"total_size": sum(sizes)}, "weight_map": weight_map})
    )
    return sum(sizes)


# ------------------------------------------------------------------ measuring


@dataclass
class Run:
    wall_s: float
    peak_rss_mb: float
    out_bytes: int


_WRAPPER = (
    "import resource, subprocess, sys\n"
    "rc = subprocess.run(sys.argv[1:]).returncode\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, rc)\n"
)


def measure(cmd: list[str], out: Path, env: dict[str, str] | None = None) -> Run:
    """Run ``cmd`` in a fresh wrapper; wall time and the child's peak RSS."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _WRAPPER, *cmd],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    wall = time.perf_counter() - t0
    last = proc.stdout.strip().splitlines()[-1].split()
    if last[1] != "0":
        sys.exit(f"command failed: {' '.join(cmd)}\n{proc.stderr[-3000:]}")
    return Run(wall, int(last[0]) / 1024, out.stat().st_size)


def warm(directory: Path) -> None:
    """Read every file once so the page cache is equally warm for each converter."""
    for p in directory.iterdir():
        with open(p, "rb") as f:
            while f.read(64 << 20):
                pass


def ours(src: Path, out: Path, outtype: str = "f16") -> Run:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return measure(
        [
            sys.executable,
            "-m",
            "convert",
            str(src),
            "-o",
            str(out),
            "--outtype",
            outtype,
            "--quiet",
        ],
        out,
        env,
    )


def theirs(llama_cpp: Path, src: Path, out: Path) -> Run:
    env = {**os.environ, "PYTHONPATH": str(llama_cpp / "gguf-py")}
    return measure(
        [
            sys.executable,
            str(llama_cpp / "convert_hf_to_gguf.py"),
            str(src),
            "--outfile",
            str(out),
            "--outtype",
            "f16",
        ],
        out,
        env,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--llama-cpp", type=Path, default=DEFAULT_LLAMA_CPP)
    ap.add_argument("--work", type=Path, default=DEFAULT_WORK)
    ap.add_argument("--keep", action="store_true", help="keep generated files")
    ap.add_argument("--skip-reference", action="store_true")
    args = ap.parse_args()
    work: Path = args.work
    work.mkdir(parents=True, exist_ok=True)
    try:
        # 1. ~2.1 GB: 22 layers of a 2048-wide GQA Llama, 8k vocabulary
        big = Shape(vocab=8192, hidden=2048, ffn=5632, layers=22, heads=16, kv_heads=4)
        src = work / "llama-2g"
        t0 = time.perf_counter()
        size = make_checkpoint(src, big, shards=3, n_pieces=8192)
        print(
            f"synthetic checkpoint: {size / 1e9:.2f} GB bf16 in "
            f"{time.perf_counter() - t0:.0f} s -> {src}"
        )
        rows = []
        warm(src)
        rows.append(("ours (python -m convert)", ours(src, work / "ours.gguf")))
        (work / "ours.gguf").unlink()
        if not args.skip_reference:
            warm(src)
            rows.append(
                (
                    "llama.cpp convert_hf_to_gguf.py",
                    theirs(args.llama_cpp, src, work / "theirs.gguf"),
                )
            )
            (work / "theirs.gguf").unlink()
        print(
            f"\n{'bf16 -> f16, ' + f'{size / 1e9:.2f} GB':<34}{'wall s':>9}{'peak RSS MB':>13}"
            f"{'output GB':>11}"
        )
        for label, r in rows:
            print(f"{label:<34}{r.wall_s:>9.1f}{r.peak_rss_mb:>13.0f}{r.out_bytes / 1e9:>11.2f}")
        if len(rows) == 2:
            a, b = rows[0][1], rows[1][1]
            print(
                f"ours/theirs: wall {a.wall_s / b.wall_s:.2f}x, "
                f"peak RSS {a.peak_rss_mb / b.peak_rss_mb:.2f}x"
            )
        shutil.rmtree(src)

        # 2. largest tensor from 32 MB to 1 GB: 4096-wide embedding, vocab 4k -> 128k
        print(f"\n{'largest tensor (embedding)':<34}{'wall s':>9}{'peak RSS MB':>13}")
        peaks = []
        for vocab in (4096, 32768, 131072):
            shape = Shape(
                vocab=vocab, hidden=4096, ffn=4096, layers=1, heads=32, kv_heads=8, tied=True
            )
            src = work / f"emb-{vocab}"
            make_checkpoint(src, shape, shards=1, n_pieces=2048)
            warm(src)
            r = ours(src, work / "emb.gguf")
            peaks.append(r.peak_rss_mb)
            emb_mb = vocab * 4096 * 2 / (1 << 20)
            print(f"{f'vocab {vocab}: {emb_mb:.0f} MiB':<34}{r.wall_s:>9.1f}{r.peak_rss_mb:>13.0f}")
            (work / "emb.gguf").unlink()
            shutil.rmtree(src)
        spread = (max(peaks) - min(peaks)) / min(peaks)
        print(f"peak RSS spread across sizes: {spread * 100:.1f}%")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
