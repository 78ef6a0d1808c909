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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
spm = pytest.importorskip("sentencepiece")
pytest.importorskip("google.protobuf")  # transformers needs it to read tokenizer.model

# Original pt-PT text for training the test tokenizer (not taken from any corpus).
CORPUS = """\
A Amália cantava o fado em Lisboa, nas noites quentes de Alfama.
O elétrico 28 sobe a colina devagar, cheio de turistas e de vizinhos.
Na padaria da esquina, o pão quente custa 0,35 € e os pastéis de nata 1,20 €.
Ontem à tarde choveu imenso no Porto; hoje o céu está limpo sobre o Douro.
A câmara municipal aprovou o orçamento para 2025 com 17 votos a favor.
Os alunos da escola secundária leram «Os Lusíadas» durante o terceiro período.
Se quiseres, podemos almoçar amanhã ao meio-dia junto ao rio.
Ele disse-me que não sabia onde tinha deixado as chaves do carro.
A ponte 25 de Abril liga Lisboa a Almada desde 1966.
Às vezes, a maré sobe tanto que a estrada junto à praia fica alagada.
O comboio para Coimbra parte às 9h15 da estação de Santa Apolónia.
Obrigado pela ajuda! Foi muito simpático da vossa parte.
Quantos quilómetros faltam até Évora? Mais ou menos cento e trinta.
A avó guardava receitas antigas num caderno de capa azul.
No verão, as sardinhas assadas enchem as ruas de fumo e de alegria.
O médico recomendou descanso, água e uma alimentação equilibrada.
Esta manhã, o autocarro atrasou-se vinte minutos por causa do trânsito.
As universidades portuguesas recebem estudantes de todo o mundo.
Ninguém esperava que o pequeno clube ganhasse o campeonato.
Ela trabalha como engenheira informática numa empresa em Braga.
Põe o casaco, que lá fora está frio e vento!
O museu abre às terças-feiras e encerra aos domingos à noite.
Comprei três quilos de laranjas do Algarve por 4,50 euros.
Vamos ver o pôr do sol no miradouro da Senhora do Monte.
A biblioteca municipal tem mais de 40 000 livros e revistas.
Cada região tem a sua tradição: o vinho verde, o queijo da serra, o pão de ló.
A conversa prolongou-se até de madrugada, entre risos e memórias.
Os pescadores da Nazaré saem para o mar antes de o dia nascer.
Não te esqueças de regar as plantas enquanto eu estiver fora.
O governo anunciou novas medidas para a habitação e para os transportes.
"""

# Sentences the parity tests tokenize: accents, €, digits, punctuation, newlines,
# repeated spaces, emoji (not in the training text: byte fallback), unseen words.
SENTENCES = [
    "Olá! Como estás?",
    "A reunião é às 15h30, na sala 2.",
    "O bilhete custou 12,50 € — caro, não achas?",
    "Primeira linha.\nSegunda linha.\n\nTerceira, depois de uma linha vazia.",
    "Espaços   repetidos    aqui  e   ali.",
    "  Começa com espaços e acaba com espaço ",
    "Gosto muito de pastéis de nata 😀🇵🇹!",
    "Ação, coração, pão, mãe, avô, órgão: ç ã õ é ê í ó ú à.",
    "Números: 0 1 2 3 4 5 6 7 8 9 10 100 1000 2024-11-27.",
    "Aspas «assim», “assim” e 'assim'; parênteses (sim) [não] {talvez}.",
    "Tabulação\taqui, e um URL: https://exemplo.pt/página?x=1&y=2",
    "Zé Çé ÃÕ ÉÊ — maiúsculas acentuadas.",
]

CHAT_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + "
    "message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
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


def build_checkpoint(
    dest: Path,
    tokenizer_dir: Path,
    *,
    layout: str,
    seed: int = 0,
    dtype: Any = None,
    max_shard_size: str = "120KB",
    **config: Any,
) -> Path:
    """Save a random LlamaForCausalLM (bf16, sharded) plus tokenizer files into ``dest``.

    ``layout`` is ``"model"`` (tokenizer.model, no tokenizer.json) or ``"json"``
    (tokenizer.json, no tokenizer.model).
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
    model = transformers.LlamaForCausalLM(transformers.LlamaConfig(**params))
    model = model.to(dtype or torch.bfloat16)
    model.generation_config.eos_token_id = [2, 4]  # </s> and <|im_end|>
    model.save_pretrained(dest, max_shard_size=max_shard_size)
    if layout == "model":
        # older-transformers style: the .model plus a config listing the added tokens
        # and carrying the chat template
        shutil.copy(tokenizer_dir / "tokenizer.model", dest / "tokenizer.model")
        (dest / "tokenizer_config.json").write_text(json.dumps(_tokenizer_config()))
    elif layout == "json":
        # what transformers 5 writes: tokenizer.json, chat_template.jinja, no .model
        for name in ("tokenizer_config.json", "tokenizer.json", "chat_template.jinja"):
            shutil.copy(tokenizer_dir / name, dest / name)
    else:
        raise ValueError(layout)
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
        "layout": "json",
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
}


@pytest.fixture(scope="session")
def checkpoint(make_checkpoint: Callable[..., Path]) -> Callable[[str], Path]:
    return lambda variant: make_checkpoint(variant, **VARIANTS[variant])


def copy_checkpoint(src: Path, dest: Path) -> Path:
    """A private, mutable copy for tests that damage the checkpoint."""
    shutil.copytree(src, dest)
    return dest
