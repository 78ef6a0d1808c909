"""The one door to llama-cpp-python below its public ``Llama`` API.

Tested with llama-cpp-python 0.3.36, the release pyproject.toml pins. Every assumption listed
here is checked against the installed release by ``tests/test_llama_door.py``, which names the
one that broke; the same file proves that no other module of ``amalia_local/``, ``quant/`` or
``convert/`` reaches past this door. A new release is tried by running that test first.

**Public, used directly anywhere in the engine.** The ``Llama`` methods of llama-cpp-python's
API reference (``__init__`` and its keyword arguments, ``tokenize``, ``eval``, ``reset``,
``token_bos``, ``token_eos``...) plus the plain accessors ``n_ctx()``, ``n_vocab()``,
``close()``, ``metadata`` and ``verbose``; and the low-level ctypes binding
(``llama_cpp.llama_*``, ``ggml_*``, ``LLAMA_*``): llama.cpp's C API as llama.h declares it.

**Private, used only through this module.** Whatever llama-cpp-python keeps for itself:
underscore attributes and modules (``Llama._model``, ``Llama._ctx``, ``llama_cpp._logger``),
the bookkeeping it keeps on the instance without documenting it (``Llama.n_tokens``,
``Llama.input_ids``, ``Llama.scores``), the undocumented properties that hand out raw
pointers (``Llama.model``, ``Llama.ctx``), the helpers of its modules that the reference does
not list (``llama_grammar.JSON_GBNF``, ``llama_grammar.json_schema_to_gbnf``) and the
package's file layout (the shared libraries in ``llama_cpp/lib``).

What this module relies on, and which function relies on it:

- ``Llama.model``: a property returning the loaded weights' ``llama_model_p`` (the address
  as an ``int``, which the ctypes binding passes as ``c_void_p``; the same pointer as
  ``Llama._model.model``). :func:`raw_model`, :func:`raw_vocab`.
- ``Llama.ctx``: a property returning the ``llama_context_p`` ``Llama.eval`` decodes into
  (``Llama._ctx.ctx``), an ``int`` address too. :func:`raw_context`.
- ``Llama.n_tokens`` (an int, assignable) and ``Llama.input_ids`` (a writable numpy ``intc``
  array with one entry per position of the ``n_ctx`` asked for; llama.cpp may pad its own
  context larger): the tokens llama-cpp-python believes are in sequence 0 of
  the context's memory, at positions ``0..n_tokens-1``. ``Llama.eval`` first removes the
  memory cells from position ``n_tokens`` on, decodes the new tokens at ``n_tokens``, writes
  them to ``input_ids[n_tokens:]`` and adds their count to ``n_tokens``; lowering
  ``n_tokens`` is how ``Llama.generate`` itself reuses a cached prefix. :func:`n_cached`,
  :func:`cached_tokens`, :func:`truncate_cached`, :func:`cut_cached`, :func:`set_cached`.
- ``Llama.scores``: a float32 numpy array of ``(n_ctx, n_vocab())`` whose row ``i`` holds
  the logits after position ``i``, filled by ``eval`` when the model was loaded with
  ``logits_all=True``. :func:`logits`.
- ``llama_cpp._logger.llama_log_callback``: the ``llama_log_callback`` llama-cpp-python
  installs when imported (it forwards llama.cpp's log to Python's ``logging``).
  :func:`default_log_callback`.
- ``llama_cpp.llama_grammar.JSON_GBNF`` (a GBNF text for any JSON value) and
  ``llama_cpp.llama_grammar.json_schema_to_gbnf(schema: str, prop_order=None) -> str``.
  :func:`json_gbnf`, :func:`schema_gbnf`.
- ``llama_cpp/lib``: the folder beside the package holding libllama and the ggml libraries
  (where the wheel puts them and where the bundle build installs the CPU variants).
  :func:`library_dir`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import llama_cpp
import numpy as np

#: The llama-cpp-python release every assumption above was checked against.
TESTED_VERSION = "0.3.36"

#: This module's path from the project root, for the messages of tests/test_llama_door.py.
DOOR = "amalia_local/engine/llama_private.py"


# --- raw pointers -------------------------------------------------------------------------
def raw_model(llm: llama_cpp.Llama) -> int:
    """The ``llama_model_p`` of ``llm``'s weights, for the C API (a second context, the vocab)."""
    return llm.model


def raw_context(llm: llama_cpp.Llama) -> int:
    """The ``llama_context_p`` that ``llm.eval`` decodes into (memory, sampling, abort)."""
    return llm.ctx


def raw_vocab(llm: llama_cpp.Llama) -> int:
    """The ``llama_vocab_p`` of ``llm``'s model (through the C API, from :func:`raw_model`)."""
    return llama_cpp.llama_model_get_vocab(raw_model(llm))


# --- llama-cpp-python's record of the cached tokens -----------------------------------------
def n_cached(llm: llama_cpp.Llama) -> int:
    """How many tokens ``llm`` believes are cached (positions ``0..n-1`` of sequence 0)."""
    return int(llm.n_tokens)


def cached_tokens(llm: llama_cpp.Llama) -> np.ndarray:
    """The cached tokens as ``llm`` records them (a view: copy before editing the cache)."""
    return llm.input_ids[: llm.n_tokens]


def truncate_cached(llm: llama_cpp.Llama, n: int) -> None:
    """Record that only the first ``n`` tokens remain; the caller removed the cells after.

    ``Llama.eval`` removes them itself too before decoding, so a caller that does not (quant's
    pair scorer) still gets a consistent cache.
    """
    if not 0 <= n <= llm.n_tokens:
        raise ValueError(f"cannot keep {n} of {llm.n_tokens} cached tokens")
    llm.n_tokens = n


def cut_cached(llm: llama_cpp.Llama, start: int, end: int) -> None:
    """Record that positions ``[start, end)`` were removed and the rest moved back over them."""
    n = llm.n_tokens
    if not 0 <= start < end <= n:
        raise ValueError(f"bad cut [{start}, {end}) of {n} cached tokens")
    ids = llm.input_ids
    ids[start : n - (end - start)] = ids[end:n].copy()
    llm.n_tokens = n - (end - start)


def set_cached(llm: llama_cpp.Llama, tokens: Sequence[int]) -> None:
    """Record that exactly ``tokens`` are cached (after restoring a snapshot of them)."""
    if len(tokens) > len(llm.input_ids):
        raise ValueError(f"{len(tokens)} tokens do not fit a context of {len(llm.input_ids)}")
    llm.input_ids[: len(tokens)] = tokens
    llm.n_tokens = len(tokens)


def logits(llm: llama_cpp.Llama) -> np.ndarray:
    """Row ``i``: the logits after cached position ``i`` (a model loaded with ``logits_all``)."""
    return llm.scores


# --- the rest of the package ----------------------------------------------------------------
def default_log_callback() -> Any:
    """llama-cpp-python's own log callback, to hand llama.cpp's log back to it."""
    from llama_cpp import _logger

    return _logger.llama_log_callback


def json_gbnf() -> str:
    """llama-cpp-python's GBNF grammar for any JSON value."""
    from llama_cpp import llama_grammar

    return llama_grammar.JSON_GBNF


def schema_gbnf(schema_json: str) -> str:
    """llama-cpp-python's conversion of a JSON schema (as text) to GBNF.

    Raises what the converter raises: bare ``KeyError``, ``ValueError``, ``Exception`` or
    ``RecursionError`` for a schema it cannot express.
    """
    from llama_cpp import llama_grammar

    return llama_grammar.json_schema_to_gbnf(schema_json)


def library_dir() -> Path:
    """The folder holding libllama and the ggml libraries (CPU variants included)."""
    return Path(llama_cpp.__file__).parent / "lib"
