"""Fixtures for converter tests: tiny real checkpoints built at test time, offline.

Everything is produced by the reference libraries themselves: a SentencePiece-BPE
tokenizer with byte fallback trained with ``sentencepiece`` on pt-PT text written for
these tests, turned into a Hugging Face tokenizer by ``transformers``, and random
Llama models created and saved (bf16, sharded) by ``transformers``. Models are a few
hundred kilobytes so the whole module runs in seconds.
"""

from __future__ import annotations

import io
import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

# The converter runs from a checkout (it is not part of the installed package), so make
# the repository root importable however pytest was started.
_ROOT = Path(__file__).resolve().parents[2]
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

# Test-only dependencies, imported plainly: CI installs them, and a missing one must fail
# loudly rather than skip the parity tests. (transformers also needs protobuf to read
# tokenizer.model.)
import sentencepiece as spm  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from convert_helpers import TOKENIZER_LAYOUTS, prepend_normalizer  # noqa: E402
from convert_samples import CHAT_TEMPLATE, CORPUS  # noqa: E402

# Tiny models: a second thread buys nothing, and on a busy 2-core machine spinning
# threads make each forward pass ~100x slower.
torch.set_num_threads(1)
transformers.utils.logging.disable_progress_bar()

CHATML = ["<|im_start|>", "<|im_end|>"]
VOCAB = 600


@pytest.fixture(scope="session")
def spm_model_bytes() -> bytes:
    """A SentencePiece BPE model with byte fallback and ChatML tokens, trained now."""
    out = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(CORPUS.splitlines() * 3),
        model_writer=out,
        model_type="bpe",
        vocab_size=VOCAB,
        byte_fallback=True,
        # identity normalisation keeps repeated spaces, as the HF Llama tokenizer does
        normalization_rule_name="identity",
        remove_extra_whitespaces=False,
        user_defined_symbols=CHATML,
        character_coverage=0.995,
        split_digits=True,
        unk_id=0,
        bos_id=1,
        eos_id=2,
        minloglevel=2,
        num_threads=1,
    )
    return out.getvalue()


def _tokenizer_config() -> dict[str, Any]:
    special = {"single_word": False, "lstrip": False, "rstrip": False, "normalized": False}
    decoder = {
        str(i): {"content": t, "special": True, **special}
        for i, t in enumerate(["<unk>", "<s>", "</s>", *CHATML])
    }
    return {
        "tokenizer_class": "LlamaTokenizer",
        "add_bos_token": True,
        "add_eos_token": False,
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "pad_token": None,
        "added_tokens_decoder": decoder,
        "chat_template": CHAT_TEMPLATE,
    }


@pytest.fixture(scope="session")
def hf_tokenizer_dir(tmp_path_factory: pytest.TempPathFactory, spm_model_bytes: bytes) -> Path:
    """tokenizer.model + tokenizer.json + tokenizer_config.json, as transformers writes them."""
    src = tmp_path_factory.mktemp("tok_src")
    (src / "tokenizer.model").write_bytes(spm_model_bytes)
    (src / "tokenizer_config.json").write_text(json.dumps(_tokenizer_config()))
    tok = transformers.AutoTokenizer.from_pretrained(src)
    out = tmp_path_factory.mktemp("tok")
    tok.save_pretrained(out)
    (out / "tokenizer.model").write_bytes(spm_model_bytes)
    assert (out / "tokenizer.json").is_file()
    return out


def _make_legacy(path: Path) -> None:
    """Rewrite tokenizer.json the way transformers 4 wrote Llama tokenizers (legacy=True).

    transformers 4 put SentencePiece's dummy prefix in the normalizer (Prepend "▁",
    then spaces → "▁"), which is applied to every piece of text between special
    tokens, exactly like SentencePiece and llama.cpp. transformers 5 uses a Metaspace
    pre-tokenizer with prepend_scheme "first" instead. Checkpoints of both vintages are
    on the Hub (EuroLLM's tokenizer.json predates transformers 5), so both are tested.
    """
    tok = json.loads(path.read_text(encoding="utf-8"))
    prepend_normalizer(tok)
    path.write_text(json.dumps(tok, ensure_ascii=False), encoding="utf-8")


def build_checkpoint(
    dest: Path,
    tokenizer_dir: Path,
    *,
    layout: str,
    seed: int = 0,
    arch: str = "llama",
    dtype: Any = None,
    max_shard_size: str = "120KB",
    tokenizer_config: dict[str, Any] | None = None,
    rewrite_json: Callable[[dict[str, Any]], None] | None = None,
    **config: Any,
) -> Path:
    """Save a random LlamaForCausalLM (bf16, sharded) plus tokenizer files into ``dest``.

    ``layout`` is ``"model"`` (tokenizer.model, no tokenizer.json), ``"json"``
    (tokenizer.json from transformers 5, no tokenizer.model) or ``"json_legacy"``
    (tokenizer.json in the transformers 4 style, no tokenizer.model).
    ``tokenizer_config`` entries are merged into tokenizer_config.json, and
    ``rewrite_json`` may change tokenizer.json in place (the other tokenizer layouts).
    """
    params: dict[str, Any] = {
        "vocab_size": VOCAB,
        "hidden_size": 64,
        "intermediate_size": 96,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 4,
        "max_position_embeddings": 256,
        "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0,
        "tie_word_embeddings": False,
        "bos_token_id": 1,
        "eos_token_id": 2,
        # larger than the default 0.02 so logits spread out and differences show
        "initializer_range": 0.15,
    }
    params.update(config)
    torch.manual_seed(seed)
    if arch == "mistral":
        model = transformers.MistralForCausalLM(transformers.MistralConfig(**params))
    else:
        model = transformers.LlamaForCausalLM(transformers.LlamaConfig(**params))
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.Linear) and module.bias is not None:
                module.bias.normal_(0.0, 0.5)  # transformers zeroes biases; make them count
    model = model.to(dtype or torch.bfloat16)
    model.generation_config.eos_token_id = [2, 4]  # </s> and <|im_end|>
    model.save_pretrained(dest, max_shard_size=max_shard_size)
    if layout == "model":
        # older-transformers style: the .model plus a config listing the added tokens
        # and carrying the chat template
        shutil.copy(tokenizer_dir / "tokenizer.model", dest / "tokenizer.model")
        (dest / "tokenizer_config.json").write_text(json.dumps(_tokenizer_config()))
    elif layout in ("json", "json_legacy"):
        # what transformers 5 writes: tokenizer.json, chat_template.jinja, no .model
        for name in ("tokenizer_config.json", "tokenizer.json", "chat_template.jinja"):
            shutil.copy(tokenizer_dir / name, dest / name)
        if layout == "json_legacy":
            _make_legacy(dest / "tokenizer.json")
    else:
        raise ValueError(layout)
    if tokenizer_config:
        path = dest / "tokenizer_config.json"
        path.write_text(json.dumps({**json.loads(path.read_text()), **tokenizer_config}))
    if rewrite_json is not None:
        path = dest / "tokenizer.json"
        tok = json.loads(path.read_text(encoding="utf-8"))
        rewrite_json(tok)
        path.write_text(json.dumps(tok, ensure_ascii=False), encoding="utf-8")
    (dest / "README.md").write_text("---\nlicense: apache-2.0\nlanguage:\n- pt\n---\n# tiny\n")
    return dest


@pytest.fixture(scope="session")
def make_checkpoint(
    tmp_path_factory: pytest.TempPathFactory, hf_tokenizer_dir: Path
) -> Callable[..., Path]:
    """Factory: ``make_checkpoint("name", layout="json", num_key_value_heads=2, ...)``."""
    cache: dict[str, Path] = {}

    def make(name: str, **kwargs: Any) -> Path:
        if name not in cache:
            cache[name] = build_checkpoint(
                tmp_path_factory.mktemp(name), hf_tokenizer_dir, **kwargs
            )
        return cache[name]

    return make


# The checkpoints the parity tests run on: tokenizer layout, attention, RoPE.
VARIANTS: dict[str, dict[str, Any]] = {
    "spm_model": {"layout": "model"},
    "json_only": {"layout": "json"},
    "gqa_tied": {
        "layout": "json_legacy",
        "num_attention_heads": 8,
        "num_key_value_heads": 2,
        "tie_word_embeddings": True,
        "seed": 1,
    },
    "rope_linear": {
        "layout": "model",
        "rope_scaling": {"rope_type": "linear", "factor": 2.0},
        "seed": 2,
    },
    # Mistral class; embedding rows beyond the tokenizer (padded vocabulary); head_dim
    # larger than hidden_size / heads
    "mistral_padded": {
        "layout": "model",
        "arch": "mistral",
        "vocab_size": 608,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": 32,
        "sliding_window": 4096,
        "seed": 5,
    },
    "rope_llama3": {
        "layout": "model",
        "rope_scaling": {
            "rope_type": "llama3",
            "factor": 8.0,
            "low_freq_factor": 1.0,
            "high_freq_factor": 4.0,
            "original_max_position_embeddings": 64,
        },
        "rope_theta": 500000.0,
        "seed": 3,
    },
    # also: attention and MLP biases, and a single unsharded model.safetensors
    "rope_yarn": {
        "layout": "model",
        "rope_scaling": {
            "rope_type": "yarn",
            "factor": 4.0,
            "original_max_position_embeddings": 64,
        },
        "attention_bias": True,
        "mlp_bias": True,
        "max_shard_size": "50MB",
        "seed": 4,
    },
}


VARIANTS.update(TOKENIZER_LAYOUTS)


@pytest.fixture(scope="session")
def checkpoint(make_checkpoint: Callable[..., Path]) -> Callable[[str], Path]:
    return lambda variant: make_checkpoint(variant, **VARIANTS[variant])


def copy_checkpoint(src: Path, dest: Path) -> Path:
    """A private, mutable copy for tests that damage the checkpoint."""
    shutil.copytree(src, dest)
    return dest


@pytest.fixture(scope="session")
def converted(
    checkpoint: Callable[[str], Path], tmp_path_factory: pytest.TempPathFactory
) -> Callable[..., Path]:
    """Factory: the GGUF our converter writes for a variant and output type (cached)."""
    from convert.core import prepare, write_gguf
    from convert.tensors import OutType

    cache: dict[tuple[str, str], Path] = {}

    def conv(variant: str, outtype: str = "f32") -> Path:
        key = (variant, outtype)
        if key not in cache:
            out = tmp_path_factory.mktemp("gguf") / f"{variant}-{outtype}.gguf"
            write_gguf(prepare(checkpoint(variant), OutType(outtype)), out, show_progress=False)
            cache[key] = out
        return cache[key]

    return conv


@pytest.fixture
def amalia_json(
    capsys: pytest.CaptureFixture[str], cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Any]:
    """Run ``amalia ARGS --json`` in-process (a fresh home) and parse what it prints."""
    for key, value in cli_env.items():
        monkeypatch.setenv(key, value)

    def run(*args: str) -> Any:
        from amalia_local import cli

        capsys.readouterr()
        code = cli.main([*args, "--json"])
        out, err = capsys.readouterr()
        assert code == 0, err
        return json.loads(out)

    return run


@pytest.fixture(scope="session")
def hf_tokenizer(checkpoint: Callable[[str], Path]) -> Callable[[str], Any]:
    """The Hugging Face tokenizer of a variant, loaded the way users load it."""
    cache: dict[str, Any] = {}

    def load(variant: str) -> Any:
        if variant not in cache:
            cache[variant] = transformers.AutoTokenizer.from_pretrained(checkpoint(variant))
        return cache[variant]

    return load
