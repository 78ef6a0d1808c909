"""Benchmark: the exact tokenizer at AMALIA's vocabulary size (128,000 tokens).

Not collected by pytest. Run from the repository root:

    python tests/benchmarks/bench_tokenizer.py [--work DIR] [--runs N]

1. Writes a synthetic SentencePiece-BPE tokenizer of 128,000 pieces (byte fallback, ChatML
   tokens, pt-PT word pieces reachable by merges, the rest random words), saved by
   transformers 5 as a checkpoint's tokenizer files (tokenizer.json, LlamaTokenizer).
2. Times the converter's tokenizer part: reading the files into the GGUF vocabulary, and
   the transformers probe (vocabulary-only GGUF, probe texts, rendered chat). Target:
   under 10 s in all.
3. Times tokenizing a ChatML chat of about 4,000 tokens: the engine's exact path (rules
   "first" and "always") beside llama.cpp's plain tokenizer on the same vocabulary and
   text (the bare ``llama_tokenize`` C call, and llama-cpp-python's ``Llama.tokenize``),
   median of N runs after load. Target: under 20 ms.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from amalia_local.engine.tokenizer import (  # noqa: E402
    RULE_KEY,
    SpacePrefix,
    open_vocabulary,
)
from convert.hparams import load_config  # noqa: E402
from convert.tokenizer import load_vocabulary  # noqa: E402
from convert.tokenizer_probe import probe, vocabulary_gguf  # noqa: E402

N_VOCAB = 128_000
CHATML = ["<|im_start|>", "<|im_end|>"]
CHAT_TARGET_TOKENS = 4_000
DEFAULT_WORK = Path("/tmp/amalia-bench-tokenizer")


def pt_words() -> list[str]:
    text = "".join(
        (ROOT / "quant" / "data" / name).read_text(encoding="utf-8")
        for name in ("calibration_pt.txt", "eval_pt.txt")
    )
    return list(dict.fromkeys(re.findall(r"\w+|[^\w\s]", text)))


def write_sentencepiece(path: Path, seed: int = 1) -> None:
    """128k BPE pieces: every prefix of a word is a piece too, so merges reach it."""
    from sentencepiece import sentencepiece_model_pb2 as pb

    m = pb.ModelProto()
    P = pb.ModelProto.SentencePiece
    for text, kind in (("<unk>", P.UNKNOWN), ("<s>", P.CONTROL), ("</s>", P.CONTROL)):
        m.pieces.add(piece=text, score=0.0, type=kind)
    for text in CHATML:
        m.pieces.add(piece=text, score=0.0, type=P.USER_DEFINED)
    for b in range(256):
        m.pieces.add(piece=f"<0x{b:02X}>", score=0.0, type=P.BYTE)
    seen = {p.piece for p in m.pieces}

    def add(piece: str) -> None:
        if piece not in seen and len(m.pieces) < N_VOCAB:
            seen.add(piece)
            m.pieces.add(piece=piece, score=-float(len(m.pieces)), type=P.NORMAL)

    alphabet = "abcdefghijklmnopqrstuvwxyzáéíóúâêôãõçàABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,;:!?"
    for ch in "\u2581" + alphabet:
        add(ch)
    words = ["\u2581" + w for w in pt_words()] + pt_words()
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyzáéíóúãõç"))
    while len(m.pieces) < N_VOCAB:
        if words:
            word = words.pop(0)
        else:
            word = "\u2581" + "".join(rng.choice(letters, size=int(rng.integers(2, 9))))
        for end in range(2, len(word) + 1):
            add(word[:end])
    m.trainer_spec.model_type = pb.TrainerSpec.BPE
    m.trainer_spec.byte_fallback = True
    m.trainer_spec.vocab_size = N_VOCAB
    m.trainer_spec.unk_id = 0
    m.trainer_spec.bos_id = 1
    m.trainer_spec.eos_id = 2
    m.normalizer_spec.name = "identity"
    m.normalizer_spec.add_dummy_prefix = True
    m.normalizer_spec.remove_extra_whitespaces = False
    path.write_bytes(m.SerializeToString())


def make_tokenizer_dir(dest: Path) -> None:
    """What transformers 5 saves for a LlamaTokenizer over that model (tokenizer.json)."""
    import transformers

    if (dest / "tokenizer.json").is_file():
        return
    src = dest.with_name(dest.name + "-src")
    src.mkdir(parents=True, exist_ok=True)
    write_sentencepiece(src / "tokenizer.model")
    special = {"special": True, "single_word": False, "lstrip": False, "rstrip": False}
    decoder = {
        str(i): {"content": t, "normalized": False, **special}
        for i, t in enumerate(["<unk>", "<s>", "</s>", *CHATML])
    }
    (src / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "tokenizer_class": "LlamaTokenizer",
                "bos_token": "<s>",
                "eos_token": "</s>",
                "unk_token": "<unk>",
                "add_bos_token": True,
                "added_tokens_decoder": decoder,
                "chat_template": (
                    "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + "
                    "m['content'] + '<|im_end|>\\n' }}{% endfor %}"
                    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
                ),
            }
        )
    )
    transformers.utils.logging.set_verbosity_error()
    transformers.AutoTokenizer.from_pretrained(src).save_pretrained(dest)
    config = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": N_VOCAB,
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 1,
        "num_attention_heads": 4,
        "num_key_value_heads": 4,
        "max_position_embeddings": 32768,
        "rms_norm_eps": 1e-5,
        "rope_theta": 1_000_000.0,
        "bos_token_id": 1,
        "eos_token_id": 2,
    }
    (dest / "config.json").write_text(json.dumps(config))


def chat_text(count: Callable[[str], int]) -> str:
    """A ChatML conversation of pt-PT turns, grown until it has ~4,000 tokens."""
    lines = [
        line.strip()
        for line in (ROOT / "quant" / "data" / "eval_pt.txt").read_text("utf-8").splitlines()
        if line.strip()
    ]
    system = "És um assistente útil. Responde em português europeu."
    parts = [f"<|im_start|>system\n{system}<|im_end|>\n"]
    i = 0
    while count("".join(parts)) < CHAT_TARGET_TOKENS:
        role = "user" if i % 2 == 0 else "assistant"
        parts.append(f"<|im_start|>{role}\n{lines[i % len(lines)]}<|im_end|>\n")
        i += 1
    return "".join(parts) + "<|im_start|>assistant\n"


def medians_ms(fns: list[Callable[[], object]], runs: int) -> list[float]:
    """Median time of each function, measured round-robin so that a busy machine slows
    them all alike (other processes come and go during a run)."""
    for fn in fns:
        fn()  # warm-up
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(runs):
        for fn, bucket in zip(fns, times, strict=True):
            start = time.perf_counter()
            fn()
            bucket.append(time.perf_counter() - start)
    return [statistics.median(t) * 1000 for t in times]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    import llama_cpp

    tok_dir = args.work / "checkpoint"
    print(f"writing a synthetic {N_VOCAB:,}-token tokenizer in {tok_dir} (not timed)...")
    make_tokenizer_dir(tok_dir)

    start = time.perf_counter()
    config = load_config(tok_dir)
    vocab = load_vocabulary(tok_dir, config.vocab_size)
    t_load = time.perf_counter() - start
    start = time.perf_counter()
    probed = probe(tok_dir, config, vocab)
    t_probe = time.perf_counter() - start
    assert probed, "transformers is needed for this benchmark"
    print(f"\ntokenizer conversion ({len(vocab.tokens):,} tokens, rule {vocab.space_prefix.value})")
    print(f"  files -> GGUF vocabulary        {t_load:6.2f} s")
    print(f"  transformers probe (exact path) {t_probe:6.2f} s")
    print(f"  total                           {t_load + t_probe:6.2f} s   (target < 10 s)")

    print(f"\ntokenizing a ~{CHAT_TARGET_TOKENS:,}-token chat, median of {args.runs} runs")
    print(
        f"  {'rule':<8} {'load':>9} {'exact path':>11} {'first call':>11} "
        f"{'llama_tokenize':>15} {'Llama.tokenize':>15}  ids"
    )
    for rule in (SpacePrefix.FIRST, SpacePrefix.ALWAYS):
        vocab.space_prefix = rule
        vocab.add_space_prefix = rule is SpacePrefix.ALWAYS
        metadata = {
            "tokenizer.ggml.model": "llama",
            "tokenizer.ggml.add_space_prefix": vocab.add_space_prefix,
            RULE_KEY: rule.value,
        }
        with vocabulary_gguf(config, vocab) as path:
            plain = llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False)
            text = chat_text(
                lambda t: len(plain.tokenize(t.encode(), add_bos=False, special=True))  # noqa: B023
            )
            data = text.encode("utf-8")
            buf = (llama_cpp.llama_token * (len(data) + 8))()
            vocab_p = llama_cpp.llama_model_get_vocab(plain.model)
            start = time.perf_counter()
            with open_vocabulary(path, metadata) as exact:
                load_ms = (time.perf_counter() - start) * 1000
                start = time.perf_counter()
                ids = exact.tokenize(text)
                first_ms = (time.perf_counter() - start) * 1000
                ms, raw_ms, plain_ms = medians_ms(
                    [
                        lambda: exact.tokenize(text),  # noqa: B023
                        lambda: llama_cpp.llama_tokenize(
                            vocab_p,  # noqa: B023
                            data,  # noqa: B023
                            len(data),  # noqa: B023
                            buf,  # noqa: B023
                            len(buf),  # noqa: B023
                            False,
                            True,
                        ),
                        lambda: plain.tokenize(data, add_bos=False, special=True),  # noqa: B023
                    ],
                    args.runs,
                )
            plain.close()
        print(
            f"  {rule.value:<8} {load_ms:6.0f} ms {ms:8.2f} ms {first_ms:8.2f} ms "
            f"{raw_ms:12.2f} ms {plain_ms:12.2f} ms  {len(ids):,}"
        )
    print("  load: vocabulary-only load with the special-token pattern built;")
    print("  first call: the exact path's first tokenization after load")


if __name__ == "__main__":
    main()
