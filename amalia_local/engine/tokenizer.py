"""Exact tokenization: the ids transformers gives for a text, merged by llama.cpp.

llama.cpp's SentencePiece tokenizer knows one rule for SentencePiece's dummy prefix
(``▁`` in front of the text): with ``tokenizer.ggml.add_space_prefix`` it puts one before
*every* run of text, at the start and after each special token, even a run that already
starts with a space. Hugging Face tokenizers have three more (see :class:`SpacePrefix`),
and which one a checkpoint triggers depends on its tokenizer class and config. The
commonest today, transformers 5's ``LlamaTokenizer`` with ``legacy: false``, prefixes only
the very start of the input: llama.cpp then tokenizes ``<|im_start|>user`` as
``<|im_start|>`` + ``▁user``, two wrong tokens on every chat message.

So the model is loaded with llama.cpp's own prefix switched off (a load-time metadata
override, :func:`kv_overrides`) whenever the rule is not SentencePiece's, and
:class:`ExactTokenizer` writes the spaces itself where the rule wants them, before a
single ``llama_tokenize`` call does the merging. The rule comes from the GGUF (our
converter stores it under :data:`RULE_KEY`) or is inferred for files converted elsewhere
(:func:`rule_from_metadata`). Every caller that turns text into ids (chat, run, serve,
``amalia tokenize``, quant's evaluation and imatrix, ``convert --verify``) goes through
:class:`ExactTokenizer`.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, TextIO

import llama_cpp

from amalia_local.engine import backends
from amalia_local.engine.llama_private import raw_vocab
from amalia_local.engine.space_prefix import (  # noqa: F401 (re-exported)
    ADD_SPACE_PREFIX_KEY,
    RULE_KEY,
    SpacePrefix,
    TokenizerRule,
    kv_overrides,
    rule_from_metadata,
)
from amalia_local.errors import ModelLoadError

# a run starting with either already has its prefix (transformers' Metaspace replaces
# spaces with "▁" before looking)
_SPACES = (" ", "\u2581")
# Token ids copied out of llama.cpp per Python call (see _llama_tokenize).
_SLICE = 1 << 15


def c_kv_overrides(rule: TokenizerRule | None) -> Any:
    """:func:`kv_overrides` for a model loaded through the C API (``amalia serve``).

    Returns a ctypes array ending with the empty sentinel entry, or None. Point
    ``llama_model_params.kv_overrides`` at it (``ctypes.cast(array,
    ctypes.POINTER(llama_cpp.llama_model_kv_override))``) and keep it alive while loading.
    """
    overrides = kv_overrides(rule)
    if not overrides:
        return None
    array = (llama_cpp.llama_model_kv_override * (len(overrides) + 1))()
    for entry, (key, value) in zip(array, overrides.items(), strict=False):
        entry.key = key.encode("utf-8")
        entry.tag = llama_cpp.LLAMA_KV_OVERRIDE_TYPE_BOOL
        entry.value.val_bool = value
    return array


class TokenizerLoadError(ValueError):
    """The loaded vocabulary does not behave as the rule needs (loaded without overrides)."""


class ExactTokenizer:
    """Text → ids as transformers would give them, for one loaded llama.cpp vocabulary.

    ``vocab`` is a ``llama_vocab*`` of a model loaded with :func:`kv_overrides`. Cheap to
    call from any thread (llama.cpp's tokenizer keeps no state between calls).
    """

    def __init__(self, vocab: Any, rule: TokenizerRule | None) -> None:
        self._vocab = vocab
        self.rule = rule
        self._n_vocab = llama_cpp.llama_vocab_n_tokens(vocab)
        self._patterns: dict[bool, re.Pattern[str] | None] = {}
        if rule is not None and self._adds_prefix_itself() != rule.native_prefix:
            raise TokenizerLoadError(
                f"the vocabulary was loaded with {ADD_SPACE_PREFIX_KEY}="
                f"{not rule.native_prefix}; load it with kv_overrides(rule)"
            )
        if rule is not None and rule.space_prefix in (SpacePrefix.FIRST, SpacePrefix.ALWAYS):
            # scanning 128k token attributes takes ~50 ms: pay it at load, not on a chat
            self._pattern(True)
            self._pattern(False)

    # --- public ---------------------------------------------------------------------------
    def tokenize(self, text: str, *, add_bos: bool = False, special: bool = True) -> list[int]:
        """Ids for ``text``; ``special`` parses ``<|im_start|>``-style text as special tokens.

        ``add_bos`` adds BOS (and EOS) when the file's ``add_bos_token``/``add_eos_token``
        ask for them, like transformers' ``add_special_tokens=True``.
        """
        prefix = self.rule.space_prefix if self.rule is not None else None
        if prefix is SpacePrefix.FIRST:
            if self._wants_first_prefix(text, special):
                text = " " + text
        elif prefix is SpacePrefix.ALWAYS:
            text = self._prefix_every_run(text, special)
        return self._llama_tokenize(text.encode("utf-8"), add_bos, special)

    def token_text(self, token: int) -> str:
        """The vocabulary's text of ``token`` (``▁Olá``, ``<0xC3>``, ``<|im_end|>``), as
        transformers' ``convert_ids_to_tokens`` shows it."""
        return llama_cpp.llama_vocab_get_text(self._vocab, token).decode("utf-8", errors="replace")

    def special_texts(self, special: bool) -> list[str]:
        """Texts llama.cpp splits out of input: user-defined tokens, plus control tokens
        and ``<unk>`` when ``special``; longest first, as llama.cpp matches them."""
        wanted = llama_cpp.LLAMA_TOKEN_ATTR_USER_DEFINED
        if special:
            wanted |= llama_cpp.LLAMA_TOKEN_ATTR_CONTROL | llama_cpp.LLAMA_TOKEN_ATTR_UNKNOWN
        get_attr = llama_cpp.llama_vocab_get_attr
        get_text = llama_cpp.llama_vocab_get_text
        texts = {
            get_text(self._vocab, i).decode("utf-8", errors="replace")
            for i in range(self._n_vocab)
            if get_attr(self._vocab, i) & wanted
        }
        return sorted((t for t in texts if t), key=len, reverse=True)

    # --- internals ------------------------------------------------------------------------
    def _pattern(self, special: bool) -> re.Pattern[str] | None:
        if special not in self._patterns:
            texts = self.special_texts(special)
            self._patterns[special] = (
                re.compile("|".join(re.escape(t) for t in texts)) if texts else None
            )
        return self._patterns[special]

    def _wants_first_prefix(self, text: str, special: bool) -> bool:
        if not text or text.startswith(_SPACES):
            return False
        pattern = self._pattern(special)
        return pattern is None or pattern.match(text) is None

    def _prefix_every_run(self, text: str, special: bool) -> str:
        """A space in front of each run of text that does not start with one.

        The single llama.cpp call that follows splits out the same special tokens, so
        each run is then tokenized exactly as if it had been tokenized alone.
        """
        pattern = self._pattern(special)
        parts: list[str] = []
        pos = 0
        matches = pattern.finditer(text) if pattern is not None else ()
        for m in matches:
            run = text[pos : m.start()]
            if run:
                parts.append(run if run.startswith(_SPACES) else " " + run)
            parts.append(m.group())
            pos = m.end()
        run = text[pos:]
        if run:
            parts.append(run if run.startswith(_SPACES) else " " + run)
        return "".join(parts)

    def _llama_tokenize(self, data: bytes, add_special: bool, special: bool) -> list[int]:
        size = len(data) + 8
        buf = (llama_cpp.llama_token * size)()
        n = llama_cpp.llama_tokenize(self._vocab, data, len(data), buf, size, add_special, special)
        if n < 0:
            size = -n
            buf = (llama_cpp.llama_token * size)()
            n = llama_cpp.llama_tokenize(
                self._vocab, data, len(data), buf, size, add_special, special
            )
        # In slices: one list of a million ids built in a single C call holds the GIL for
        # ~0.1 s, and a server's event loop (its /health) must not wait that long.
        tokens: list[int] = []
        for start in range(0, n, _SLICE):
            tokens += buf[start : min(n, start + _SLICE)]
        return tokens

    def _adds_prefix_itself(self) -> bool:
        """Whether llama.cpp puts ``▁`` in front of raw text for this loaded vocabulary."""
        ids = self._llama_tokenize(b"\n", False, False)
        if not ids:
            return False
        buf = ctypes.create_string_buffer(64)
        n = llama_cpp.llama_token_to_piece(self._vocab, ids[0], buf, len(buf), 0, True)
        return len(ids) > 1 or buf.raw[: max(n, 0)].startswith((b" ", "\u2581".encode()))


def for_llama(llm: llama_cpp.Llama) -> ExactTokenizer:
    """The exact tokenizer of a model loaded with ``llama_cpp.Llama`` and :func:`kv_overrides`
    (llama-cpp-python's ``metadata`` holds the GGUF's keys as text)."""
    return ExactTokenizer(raw_vocab(llm), rule_from_metadata(llm.metadata))


@contextlib.contextmanager
def open_vocabulary(
    path: Path, metadata: Mapping[str, Any], log_stream: TextIO | None = None
) -> Iterator[ExactTokenizer]:
    """Load only ``path``'s vocabulary (no weights) and tokenize with it.

    For ``amalia tokenize``, the converter's probe and ``convert --verify``: a 128k-token
    vocabulary loads in well under a second. llama.cpp's log goes to ``log_stream`` (our
    log file), or nowhere.
    """
    rule = rule_from_metadata(metadata)
    backends.ensure_loaded()
    with contextlib.ExitStack() as stack:
        sink = log_stream or stack.enter_context(open(os.devnull, "w"))
        try:
            with contextlib.redirect_stderr(sink), contextlib.redirect_stdout(sink):
                llm = llama_cpp.Llama(
                    model_path=str(path),
                    vocab_only=True,
                    kv_overrides=kv_overrides(rule),
                    verbose=log_stream is not None,
                )
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelLoadError("error.model_load_failed", path=path, reason=str(exc)) from exc
        try:
            yield ExactTokenizer(raw_vocab(llm), rule)
        finally:
            with contextlib.redirect_stderr(sink):
                llm.close()
