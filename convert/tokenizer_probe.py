"""Ask transformers itself whether the GGUF vocabulary we are about to write tokenizes like it.

:mod:`convert.prefix_rule` reads the files the way transformers 5 does, but only
transformers knows for sure. When it is installed, the converter writes the vocabulary
alone into a temporary GGUF, loads it with llama.cpp through the engine's exact path
(:class:`amalia_local.engine.tokenizer.ExactTokenizer`), and compares ids on probe texts:
ChatML turns, leading spaces, newlines after special tokens, digits, emoji, pt-PT text,
and the checkpoint's own chat template rendered by transformers. Any difference stops
the conversion: a GGUF whose tokens are not the HF tokenizer's is a broken model.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gguf

from amalia_local.engine.tokenizer import RULE_KEY, ExactTokenizer, open_vocabulary
from convert.errors import ConvertError
from convert.hparams import ModelConfig, add_hparams
from convert.tokenizer import Vocabulary, add_vocabulary

PROBE_TEXTS = (
    "Olá! Como estás?",
    "  Começa com dois espaços.",
    " Um espaço à frente.",
    "\nUma linha nova primeiro.",
    "Números: 0 1 12 123 1234 2025-06-10 3,14 €",
    "Emoji 😀🇵🇹 e acentos: ação, pão, avô, órgão.",
    "<|im_start|>user\nOlá, tudo bem?<|im_end|>\n<|im_start|>assistant\nSim!<|im_end|>\n",
    "<|im_start|>system\n  Sê breve.<|im_end|>\n<|im_start|>user\n\nDuas linhas<|im_end|>",
    "texto antes <|im_start|>user\n depois<|im_end|> e no fim ",
)
PROBE_CHAT = (
    {"role": "system", "content": "És um assistente útil que responde em português europeu."},
    {"role": "user", "content": "Qual é a capital de Portugal?"},
    {"role": "assistant", "content": "A capital de Portugal é Lisboa."},
    {"role": "user", "content": "  E a do distrito de Braga? 😀"},
)


class TokenizerMismatchError(ConvertError):
    """The GGUF vocabulary would tokenize differently from the Hugging Face tokenizer."""


@dataclass(frozen=True)
class Mismatch:
    case: str
    text: str
    want: list[int]
    got: list[int]

    def describe(self) -> str:
        i = next(
            (k for k, (a, b) in enumerate(zip(self.want, self.got, strict=False)) if a != b),
            min(len(self.want), len(self.got)),
        )
        return (
            f"{self.case} {self.text[:60]!r}: transformers {self.want[max(0, i - 2) : i + 4]} "
            f"vs GGUF {self.got[max(0, i - 2) : i + 4]} at token {i}"
        )


def transformers_available() -> bool:
    try:
        import transformers  # noqa: F401
    except ImportError:
        return False
    return True


def load_hf_tokenizer(model_dir: Path) -> Any:
    """The checkpoint's tokenizer as users load it (``AutoTokenizer``), never from the net."""
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    return transformers.AutoTokenizer.from_pretrained(model_dir, local_files_only=True)


def compare(hf: Any, exact: ExactTokenizer) -> list[Mismatch]:
    """Every probe where the exact path disagrees with transformers."""
    found: list[Mismatch] = []
    for text in PROBE_TEXTS:
        cases = (
            ("text", hf.encode(text, add_special_tokens=False), False),
            ("text+specials", hf.encode(text, add_special_tokens=True), True),
        )
        for case, want, add_bos in cases:
            got = exact.tokenize(text, add_bos=add_bos, special=True)
            if list(want) != got:
                found.append(Mismatch(case, text, list(want), got))
    if getattr(hf, "chat_template", None):
        chat = list(PROBE_CHAT)
        rendered = hf.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
        want = _ids(hf.apply_chat_template(chat, tokenize=True, add_generation_prompt=True))
        got = exact.tokenize(rendered, add_bos=False, special=True)
        if want != got:
            found.append(Mismatch("chat", rendered, want, got))
    return found


def _ids(result: Any) -> list[int]:
    """apply_chat_template returns a list, or a BatchEncoding with input_ids, by version."""
    if hasattr(result, "keys") and "input_ids" in result:
        result = result["input_ids"]
    return [int(i) for i in result]


@contextlib.contextmanager
def vocabulary_gguf(config: ModelConfig, vocab: Vocabulary) -> Iterator[Path]:
    """A temporary GGUF with the hyperparameters and vocabulary only (no tensors)."""
    with tempfile.TemporaryDirectory(prefix="amalia-probe-") as tmp:
        path = Path(tmp) / "vocab.gguf"
        writer = gguf.GGUFWriter(path, config.arch_name)
        add_hparams(writer, config)
        add_vocabulary(writer, vocab)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_ti_data_to_file()
        writer.close()
        yield path


def probe(model_dir: Path, config: ModelConfig, vocab: Vocabulary) -> bool:
    """Check ``vocab`` against transformers; False when transformers is not installed.

    Raises :class:`TokenizerMismatchError` naming the first differences.
    """
    if not transformers_available():
        return False
    hf = load_hf_tokenizer(model_dir)
    metadata = {
        gguf.Keys.Tokenizer.MODEL: "llama",
        gguf.Keys.Tokenizer.ADD_PREFIX: vocab.add_space_prefix,
        RULE_KEY: vocab.space_prefix.value,
    }
    with vocabulary_gguf(config, vocab) as path, open_vocabulary(path, metadata) as exact:
        mismatches = compare(hf, exact)
    if mismatches:
        details = "; ".join(m.describe() for m in mismatches[:3])
        raise TokenizerMismatchError(
            f"the converted vocabulary (dummy prefix rule {vocab.space_prefix.value!r}) "
            f"does not tokenize like transformers' {type(hf).__name__}: {details}"
        )
    return True
