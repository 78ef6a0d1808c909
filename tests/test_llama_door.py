"""The one door to llama-cpp-python's private parts (amalia_local/engine/llama_private.py).

Two halves. The first checks, against the installed llama-cpp-python, every assumption the
door's docstring lists, and fails with a message naming what changed and the door to update:
run it first when trying a new release. The second scans our packages and tests to prove no
other module reaches past the door, so a new release only ever means editing that one file.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator
from pathlib import Path

import llama_cpp
import numpy as np
import pytest

from amalia_local.engine import llama_private as door

ROOT = Path(__file__).resolve().parent.parent
N_CTX = 64


def changed(what: str) -> str:
    return f"{what}: the door in {door.DOOR} needs updating"


# --- the assumptions, checked against the installed release --------------------------------
def test_llama_has_the_pointer_properties() -> None:
    for name in ("model", "ctx"):
        attr = inspect.getattr_static(llama_cpp.Llama, name, None)
        assert isinstance(attr, property), changed(
            f"llama_cpp.Llama no longer has a {name} property"
        )


def test_logger_callback() -> None:
    try:
        from llama_cpp import _logger
    except ImportError:
        pytest.fail(changed("llama_cpp no longer has a _logger module"))
    callback = getattr(_logger, "llama_log_callback", None)
    assert callback is not None, changed("llama_cpp._logger no longer has llama_log_callback")
    assert isinstance(callback, llama_cpp.llama_log_callback), changed(
        "llama_cpp._logger.llama_log_callback is no longer a llama_cpp.llama_log_callback"
    )
    assert door.default_log_callback() is callback


def test_grammar_helpers() -> None:
    from llama_cpp import llama_grammar

    gbnf = getattr(llama_grammar, "JSON_GBNF", None)
    assert isinstance(gbnf, str) and "root" in gbnf, changed(
        "llama_cpp.llama_grammar.JSON_GBNF is gone or no longer a GBNF text with a root rule"
    )
    convert = getattr(llama_grammar, "json_schema_to_gbnf", None)
    assert callable(convert), changed("llama_cpp.llama_grammar no longer has json_schema_to_gbnf")
    params = list(inspect.signature(convert).parameters.values())
    assert params and params[0].name == "schema", changed(
        f"llama_cpp.llama_grammar.json_schema_to_gbnf's first parameter is no longer "
        f"schema: {inspect.signature(convert)}"
    )
    assert all(p.default is not p.empty for p in params[1:]), changed(
        f"llama_cpp.llama_grammar.json_schema_to_gbnf needs more than the schema now: "
        f"{inspect.signature(convert)}"
    )
    out = door.schema_gbnf('{"type": "object", "properties": {"a": {"type": "integer"}}}')
    assert isinstance(out, str) and "root" in out, changed(
        "llama_cpp.llama_grammar.json_schema_to_gbnf no longer returns a GBNF text"
    )
    assert door.json_gbnf() == gbnf


def test_library_dir_holds_libllama() -> None:
    folder = door.library_dir()
    assert folder.is_dir(), changed(f"llama_cpp's shared libraries are no longer in {folder}")
    names = [p.name for p in folder.iterdir()]
    assert any(re.match(r"(lib)?llama\.(so|dylib|dll)", n) for n in names), changed(
        f"libllama is no longer in {folder} ({sorted(names)})"
    )
    assert any(n.startswith(("libggml-base", "ggml-base")) for n in names), changed(
        f"ggml's base library is no longer in {folder} ({sorted(names)})"
    )


def test_tested_version_is_the_pin() -> None:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert f'"llama-cpp-python>={door.TESTED_VERSION},' in text, (
        f"pyproject.toml's llama-cpp-python pin no longer starts at {door.TESTED_VERSION}: "
        f"update TESTED_VERSION in {door.DOOR} once this test passes with the new release"
    )


@pytest.fixture(scope="module")
def llm(tiny_model: Path) -> Iterator[llama_cpp.Llama]:
    """A real Llama the way quant and convert load one (logits for every position)."""
    model = llama_cpp.Llama(
        model_path=str(tiny_model), n_ctx=N_CTX, n_batch=N_CTX, logits_all=True, verbose=False
    )
    yield model
    model.close()


def _seq_pos_max(llm: llama_cpp.Llama) -> int:
    return int(
        llama_cpp.llama_memory_seq_pos_max(llama_cpp.llama_get_memory(door.raw_context(llm)), 0)
    )


def test_raw_pointers(llm: llama_cpp.Llama) -> None:
    model, ctx = door.raw_model(llm), door.raw_context(llm)
    assert isinstance(model, int) and model, changed(
        f"llama_cpp.Llama.model is no longer a llama_model_p (an int address): {model!r}"
    )
    assert isinstance(ctx, int) and ctx, changed(
        f"llama_cpp.Llama.ctx is no longer a llama_context_p (an int address): {ctx!r}"
    )
    assert model == llama_cpp.llama_get_model(ctx), changed(
        "llama_cpp.Llama.model is no longer the model of Llama.ctx"
    )
    vocab = door.raw_vocab(llm)
    assert vocab and llama_cpp.llama_vocab_n_tokens(vocab) == llm.n_vocab(), changed(
        "the vocab of llama_cpp.Llama.model no longer matches Llama.n_vocab()"
    )


def test_token_record(llm: llama_cpp.Llama) -> None:
    """``n_tokens``/``input_ids`` are the record eval appends to, and lowering ``n_tokens``
    makes the next eval drop the cells after it (what KvMemory and the pair scorer use)."""
    assert isinstance(llm.n_tokens, int), changed("llama_cpp.Llama.n_tokens is no longer an int")
    ids = getattr(llm, "input_ids", None)
    assert isinstance(ids, np.ndarray) and ids.dtype == np.intc and len(ids) == N_CTX, changed(
        f"llama_cpp.Llama.input_ids is no longer an intc array of n_ctx entries: {ids!r:.80}"
    )
    assert ids.flags.writeable, changed("llama_cpp.Llama.input_ids is no longer writable")
    llm.reset()
    assert door.n_cached(llm) == 0, changed("llama_cpp.Llama.reset no longer sets n_tokens to 0")
    tokens = llm.tokenize(b"ola lisboa", add_bos=False)[:6]
    llm.eval(tokens)
    assert door.n_cached(llm) == len(tokens), changed(
        "llama_cpp.Llama.eval no longer adds the tokens' count to n_tokens"
    )
    assert list(door.cached_tokens(llm)) == tokens, changed(
        "llama_cpp.Llama.eval no longer writes the tokens to input_ids[n_tokens:]"
    )
    assert _seq_pos_max(llm) == len(tokens) - 1, changed(
        "llama_cpp.Llama.eval no longer decodes into sequence 0 from position 0"
    )
    door.truncate_cached(llm, 2)
    llm.eval(tokens[4:5])
    assert door.n_cached(llm) == 3 and list(door.cached_tokens(llm)) == tokens[:2] + tokens[4:5], (
        changed("llama_cpp.Llama.eval no longer appends at n_tokens once n_tokens is lowered")
    )
    assert _seq_pos_max(llm) == 2, changed(
        "llama_cpp.Llama.eval no longer removes the memory cells from n_tokens on"
    )
    door.set_cached(llm, tokens[:4])
    assert list(door.cached_tokens(llm)) == tokens[:4]
    door.cut_cached(llm, 1, 3)
    assert list(door.cached_tokens(llm)) == [tokens[0], tokens[3]]
    llm.reset()


def test_logits_rows(llm: llama_cpp.Llama) -> None:
    scores = door.logits(llm)
    assert isinstance(scores, np.ndarray) and scores.dtype == np.float32, changed(
        f"llama_cpp.Llama.scores is no longer a float32 array: {type(scores)}"
    )
    assert scores.shape == (N_CTX, llm.n_vocab()), changed(
        f"llama_cpp.Llama.scores is no longer (n_ctx, n_vocab): {scores.shape}"
    )
    llm.reset()
    tokens = llm.tokenize(b"ola", add_bos=False)[:3]
    llm.eval(tokens)
    last = np.ctypeslib.as_array(
        llama_cpp.llama_get_logits_ith(door.raw_context(llm), len(tokens) - 1),
        shape=(llm.n_vocab(),),
    )
    assert np.array_equal(door.logits(llm)[len(tokens) - 1], last), changed(
        "llama_cpp.Llama.scores row i is no longer the logits after position i (logits_all)"
    )
    llm.reset()


# --- nobody else goes past the door ------------------------------------------------------
# The Llama object is called llm (or _llm) everywhere in our code; these are the names the
# door keeps to itself (see its docstring).
PRIVATE = re.compile(
    r"\w*llm\.(?:_\w+|model|ctx|n_tokens|input_ids|scores)\b"
    r"|llama_cpp\._[a-z]\w*|llama_cpp\.__file__|_internals|\b_logger\b|llama_grammar"
)
# tests/ too, so that a new release means editing the door alone; this file is the exception.
SCANNED = ("amalia_local", "quant", "convert", "tests")
EXEMPT = {ROOT / door.DOOR, Path(__file__).resolve()}


def _code_lines(path: Path) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        code = line.split("#", 1)[0]
        if code.strip():
            yield number, code


def test_the_scan_sees_what_it_forbids() -> None:
    door_file = ROOT / door.DOOR
    found = {m.group(0) for _, code in _code_lines(door_file) for m in PRIVATE.finditer(code)}
    for expected in ("llm.model", "llm.ctx", "llm.n_tokens", "llm.input_ids", "llm.scores"):
        assert expected in found, f"the scan no longer sees {expected} in {door.DOOR}"
    assert "engine._llm" not in {m.group(0) for m in PRIVATE.finditer("x = engine._llm.eval")}


def test_no_module_but_the_door_touches_private_parts() -> None:
    offenders = []
    for package in SCANNED:
        for path in sorted((ROOT / package).rglob("*.py")):
            if path in EXEMPT:
                continue
            for number, code in _code_lines(path):
                for match in PRIVATE.finditer(code):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {match.group(0)}")
    assert not offenders, (
        f"only {door.DOOR} may reach llama-cpp-python's private parts; add a function "
        "there instead of:\n" + "\n".join(offenders)
    )
