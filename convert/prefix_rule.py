"""Which dummy-prefix rule transformers applies to a checkpoint, decided from its files.

transformers 5 picks the tokenizer class from ``tokenizer_config.json`` *and* the model
type, and the class decides how much of ``tokenizer.json`` it believes:

* ``LlamaTokenizer`` / ``LlamaTokenizerFast`` named by a Llama model rebuild the
  pipeline: no normalizer, a Metaspace pre-tokenizer whose ``prepend_scheme`` is
  ``never`` when ``add_prefix_space`` is false, else ``first`` unless ``legacy`` is
  true (``always``). Whatever normalizer ``tokenizer.json`` has is ignored.
* Everything else loads the generic ``TokenizersBackend``: any other class
  (``PreTrainedTokenizerFast``), no class at all, and every class for a Mistral model
  (transformers registers the generic backend for that model type). It uses
  ``tokenizer.json`` as written: a ``Prepend "▁"`` normalizer behaves like SentencePiece,
  a Metaspace pre-tokenizer by its ``prepend_scheme``. Without ``tokenizer.json`` it
  follows ``tokenizer.model``: SentencePiece's own rule unless ``legacy`` is false
  (then ``first``), none when the model has no dummy prefix.

This is a reading of transformers' code, so :mod:`convert.tokenizer_probe` checks it
against transformers itself whenever transformers is installed.
"""

from __future__ import annotations

from typing import Any

from amalia_local.engine.space_prefix import SpacePrefix
from convert.errors import UnsupportedError

SPIECE_UNDERLINE = "\u2581"
_LLAMA_CLASS = "LlamaTokenizer"
# model types for which transformers registers the generic backend whatever the class
_GENERIC_MODEL_TYPES = frozenset({"mistral", "mixtral"})


def decide(
    tokenizer_config: dict[str, Any],
    tok_json: dict[str, Any] | None,
    model_type: str,
    spm_dummy_prefix: bool,
) -> SpacePrefix:
    """The rule transformers 5 follows for these files.

    ``spm_dummy_prefix`` is tokenizer.model's ``add_dummy_prefix`` (only used without
    tokenizer.json).
    """
    cls = str(tokenizer_config.get("tokenizer_class") or "").removesuffix("Fast")
    if cls == _LLAMA_CLASS and model_type not in _GENERIC_MODEL_TYPES:
        return _llama_rule(tokenizer_config)
    if tok_json is not None:
        return _tokenizer_json_rule(tok_json)
    if not spm_dummy_prefix:
        return SpacePrefix.NEVER
    # (a "legacy": null entry counts as false there, as here)
    return SpacePrefix.SENTENCEPIECE if tokenizer_config.get("legacy", True) else SpacePrefix.FIRST


def _llama_rule(cfg: dict[str, Any]) -> SpacePrefix:
    add_prefix_space = cfg.get("add_prefix_space")
    if add_prefix_space is not None and not add_prefix_space:
        return SpacePrefix.NEVER
    return SpacePrefix.ALWAYS if cfg.get("legacy") else SpacePrefix.FIRST


def _tokenizer_json_rule(tok: dict[str, Any]) -> SpacePrefix:
    found = [r for r in (_walk(tok.get("normalizer")), _walk(tok.get("pre_tokenizer"))) if r]
    if not found:
        return SpacePrefix.NEVER
    if len(found) > 1 and found[0] is not found[1]:
        raise UnsupportedError(
            "tokenizer.json adds a '▁' prefix both in its normalizer and its pre-tokenizer; "
            "this combination is not supported"
        )
    return found[0]


def _walk(node: Any) -> SpacePrefix | None:
    if not isinstance(node, dict):
        return None
    kind = node.get("type")
    if kind == "Prepend":
        return SpacePrefix.SENTENCEPIECE if node.get("prepend") == SPIECE_UNDERLINE else None
    if kind == "Metaspace":
        scheme = node.get("prepend_scheme")
        if scheme is None:  # tokenizers before 0.14 wrote add_prefix_space instead
            scheme = "always" if node.get("add_prefix_space", True) else "never"
        try:
            return SpacePrefix(scheme)
        except ValueError:
            raise UnsupportedError(
                f"tokenizer.json Metaspace prepend_scheme {scheme!r} is not supported"
            ) from None
    if kind == "Sequence":
        for child in node.get("normalizers") or node.get("pretokenizers") or []:
            rule = _walk(child)
            if rule is not None:
                return rule
    return None


def native_add_space_prefix(rule: SpacePrefix) -> bool:
    """The ``tokenizer.ggml.add_space_prefix`` closest to ``rule`` for plain llama.cpp.

    Our engine ignores it (it applies the rule itself), but other llama.cpp programs read
    it. For FIRST, "no prefix" keeps chat prompts exact (they start with a special token,
    after which transformers adds none); only a plain text's first word then differs.
    """
    return rule in (SpacePrefix.SENTENCEPIECE, SpacePrefix.ALWAYS)
