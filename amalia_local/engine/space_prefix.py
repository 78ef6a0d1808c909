"""Where SentencePiece's ``▁`` goes in front of text: the rule, without llama.cpp.

Split from :mod:`amalia_local.engine.tokenizer` so the converter, ``amalia info`` and
the fit checks can read and write the rule without loading libllama; the tokenizer that
applies it lives there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

RULE_KEY = "amalia.tokenizer.space_prefix"
ADD_SPACE_PREFIX_KEY = "tokenizer.ggml.add_space_prefix"
_SPM_MODEL = "llama"  # tokenizer.ggml.model of SentencePiece vocabularies


class SpacePrefix(str, Enum):
    """Where a SentencePiece-style tokenizer puts ``▁`` in front of text.

    A "run" is the text between special tokens (or the whole input when it has none).
    """

    #: before every run, even one that starts with a space: SentencePiece itself,
    #: llama.cpp, and tokenizer.json files with a ``Prepend "▁"`` normalizer (EuroLLM's)
    SENTENCEPIECE = "sentencepiece"
    #: before every run that does not already start with a space (Metaspace "always";
    #: transformers 5's LlamaTokenizer with ``legacy: true``)
    ALWAYS = "always"
    #: only before the run at the very start of the input, unless it starts with a space
    #: (Metaspace "first"; transformers 5's LlamaTokenizer with ``legacy: false``)
    FIRST = "first"
    #: never (``add_prefix_space: false``, Metaspace "never")
    NEVER = "never"


@dataclass(frozen=True)
class TokenizerRule:
    """The prefix rule of a model, and whether the file said so or we inferred it."""

    space_prefix: SpacePrefix
    stored: bool

    @property
    def native_prefix(self) -> bool:
        """What llama.cpp's ``add_space_prefix`` must be at load for the exact path."""
        return self.space_prefix is SpacePrefix.SENTENCEPIECE


def rule_from_metadata(metadata: Mapping[str, Any]) -> TokenizerRule | None:
    """The rule for a GGUF's metadata; ``None`` when llama.cpp's tokenizer is used as is.

    Only SentencePiece vocabularies (``tokenizer.ggml.model = llama``) have a dummy prefix.
    A file without our key was converted elsewhere: ``add_space_prefix: false`` means no
    prefix anywhere (llama.cpp and transformers agree); otherwise the checkpoint's Hugging
    Face tokenizer was most likely transformers' ``LlamaTokenizer``, whose default (no
    ``legacy`` key) is :attr:`SpacePrefix.FIRST` in transformers 5. ``amalia info`` shows
    that the rule was inferred, and ``python -m convert --verify`` checks it.
    """
    if str(metadata.get("tokenizer.ggml.model", "")) != _SPM_MODEL:
        return None
    stored = metadata.get(RULE_KEY)
    if stored is not None:
        try:
            return TokenizerRule(SpacePrefix(str(stored)), stored=True)
        except ValueError:
            pass  # written by a newer converter: fall back to inference
    if not _flag(metadata.get(ADD_SPACE_PREFIX_KEY, True)):
        return TokenizerRule(SpacePrefix.NEVER, stored=False)
    return TokenizerRule(SpacePrefix.FIRST, stored=False)


def _flag(value: Any) -> bool:
    """A GGUF bool, from gguf's reader (bool) or llama-cpp-python's metadata (str)."""
    if isinstance(value, str):
        return value.strip().lower() not in ("false", "0", "")
    return bool(value)


def kv_overrides(rule: TokenizerRule | None) -> dict[str, bool | int | float | str] | None:
    """Metadata overrides to load the model with, so :class:`ExactTokenizer` is exact."""
    if rule is None:
        return None
    return {ADD_SPACE_PREFIX_KEY: rule.native_prefix}
