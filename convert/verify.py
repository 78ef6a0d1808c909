"""``python -m convert --verify HF_DIR MODEL.gguf``: does the GGUF behave like the checkpoint?

For maintainers, before publishing: token ids of pt-PT probe texts and of a multi-turn chat
rendered by *our* engine (the GGUF's template, the engine's exact tokenizer) against
transformers' tokenizer and ``apply_chat_template``; then, when torch is installed, the
logits of the chat's first 64 tokens against transformers' model in float32. Prints a
table; any mismatch makes the exit code 1.

A passing run leaves ``MODEL.gguf.verify.json`` beside the file (date, versions, file size
and time) so ``quant``'s model card can say the source it quantized was verified, and when.

Logit bounds are relative errors (max |Δ| / max |transformers|) by the file's precision,
from what tests/convert/test_logits_parity.py measures with 2-6x room: a wrong tokenizer,
layout or RoPE gives errors of order 1.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gguf

from amalia_local.engine.template import ChatTemplate, Message
from amalia_local.engine.tokenizer import (
    ExactTokenizer,
    for_llama,
    kv_overrides,
    rule_from_metadata,
)
from amalia_local.errors import AmaliaError
from amalia_local.filecopy import write_text_atomic
from amalia_local.hardware import physical_cores
from amalia_local.i18n import Translator
from amalia_local.model_file import ModelFile, inspect
from convert.errors import ConvertError, MissingFileError
from convert.tokenizer_probe import PROBE_CHAT, PROBE_TEXTS, load_hf_tokenizer

LOGIT_TOKENS = 64
# relative logit error allowed, by general.file_type; anything quantized below 8 bits
# only has to stay clearly below the order-1 errors of a broken conversion
_MAX_REL_ERR = {
    gguf.LlamaFileType.ALL_F32: 1e-3,
    gguf.LlamaFileType.MOSTLY_F16: 1e-2,
    gguf.LlamaFileType.MOSTLY_BF16: 5e-2,
    gguf.LlamaFileType.MOSTLY_Q8_0: 0.15,
}
_QUANTIZED_MAX_REL_ERR = 0.5


@dataclass(frozen=True)
class Check:
    name: str
    want: str
    got: str
    ok: bool


def record_path(model: Path) -> Path:
    return model.with_name(model.name + ".verify.json")


def read_record(model: Path) -> dict[str, Any] | None:
    """The verification record of ``model`` if it is for this very file, else None."""
    try:
        data = json.loads(record_path(model).read_text(encoding="utf-8"))
        stat = model.stat()
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    if data.get("size") != stat.st_size or data.get("mtime_ns") != stat.st_mtime_ns:
        return None  # the file changed since it was verified
    return data


def verify(hf_dir: Path, model_path: Path) -> tuple[list[Check], bool]:
    """Run every check; returns the rows and whether the logits part ran (torch)."""
    if not hf_dir.is_dir():
        raise MissingFileError(f"{hf_dir} is not a directory")
    try:
        import transformers  # noqa: F401
    except ImportError:
        raise ConvertError("--verify needs transformers: pip install transformers") from None
    model = _inspect(model_path)
    hf = load_hf_tokenizer(hf_dir)
    with _open_llama(model) as (llm, exact):
        checks = _token_checks(hf, exact, model)
        chat_ids = _engine_chat_ids(exact, model)
        logits_ran = _torch_available()
        if logits_ran:
            checks.append(_logit_check(hf_dir, llm, model, chat_ids[:LOGIT_TOKENS]))
    return checks, logits_ran


def _inspect(path: Path) -> ModelFile:
    try:
        return inspect(path)
    except AmaliaError as exc:
        raise ConvertError(Translator("en").t(exc.key, **exc.params)) from exc


@contextlib.contextmanager
def _open_llama(model: ModelFile) -> Iterator[tuple[Any, ExactTokenizer]]:
    import llama_cpp

    from amalia_local.engine.backends import ensure_loaded

    ensure_loaded()
    rule = rule_from_metadata(model.metadata)
    with (
        open(os.devnull, "w") as null,
        contextlib.redirect_stderr(null),
        contextlib.redirect_stdout(null),
    ):
        llm = llama_cpp.Llama(
            model_path=str(model.path),
            kv_overrides=kv_overrides(rule),
            logits_all=True,
            n_ctx=max(LOGIT_TOKENS * 2, 256),
            n_threads=physical_cores(),
            n_threads_batch=physical_cores(),
            type_k=0,  # f32 KV cache: only the file's own precision differs
            type_v=0,
            verbose=False,
        )
    try:
        yield llm, for_llama(llm)
    finally:
        llm.close()


def _engine_chat_ids(exact: ExactTokenizer, model: ModelFile) -> list[int]:
    """The chat as the engine feeds it: the GGUF's template, then the exact tokenizer."""
    specials = model.special_tokens()
    template = ChatTemplate(
        model.chat_template,
        bos_token=specials.get("bos", (0, ""))[1],
        eos_token=specials.get("eos", (0, ""))[1],
    )
    rendered = template.render([Message(m["role"], m["content"]) for m in PROBE_CHAT])
    return exact.tokenize(rendered, add_bos=False, special=True)


def _token_checks(hf: Any, exact: ExactTokenizer, model: ModelFile) -> list[Check]:
    checks = []
    for text in PROBE_TEXTS:
        want = list(hf.encode(text))
        got = exact.tokenize(text, add_bos=True, special=True)
        checks.append(_ids_check(f"ids {text[:32]!r}", want, got))
    chat = [dict(m) for m in PROBE_CHAT]
    want = hf.apply_chat_template(chat, tokenize=True, add_generation_prompt=True)
    if hasattr(want, "keys"):
        want = want["input_ids"]
    checks.append(_ids_check("chat (4 turns)", list(want), _engine_chat_ids(exact, model)))
    return checks


def _ids_check(name: str, want: list[int], got: list[int]) -> Check:
    if want == got:
        return Check(name, f"{len(want)} ids", f"{len(got)} ids", True)
    i = next((k for k, (a, b) in enumerate(zip(want, got, strict=False)) if a != b), None)
    i = min(len(want), len(got)) if i is None else i
    return Check(name, f"{want[i : i + 3]} at {i}", f"{got[i : i + 3]}", False)


def _torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def _logit_check(hf_dir: Path, llm: Any, model: ModelFile, ids: list[int]) -> Check:
    import numpy as np
    import torch
    import transformers

    from amalia_local.engine.llama_private import logits

    hf_model = transformers.AutoModelForCausalLM.from_pretrained(
        hf_dir, dtype=torch.float32, local_files_only=True
    ).eval()
    with torch.no_grad():
        ref = hf_model(torch.tensor([ids])).logits[0].numpy()
    llm.reset()
    llm.eval(ids)
    got = np.asarray(logits(llm)[: len(ids)], dtype=np.float32)
    rel = float(np.abs(got - ref).max() / np.abs(ref).max())
    top1 = float(np.mean(got.argmax(-1) == ref.argmax(-1)))
    bound = _bound(model)
    return Check(
        f"logits ({len(ids)} tokens)",
        f"max rel. error < {bound:g}",
        f"{rel:.2e}, top-1 {top1:.0%}",
        rel < bound,
    )


def _bound(model: ModelFile) -> float:
    raw = model.get(gguf.Keys.General.FILE_TYPE)
    try:
        return _MAX_REL_ERR.get(gguf.LlamaFileType(int(raw)), _QUANTIZED_MAX_REL_ERR)
    except (TypeError, ValueError):
        return _QUANTIZED_MAX_REL_ERR


def table(checks: list[Check]) -> str:
    rows = [("check", "transformers", "GGUF (our engine)", "")] + [
        (c.name, c.want, c.got, "ok" if c.ok else "MISMATCH") for c in checks
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join(
        f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}".rstrip()
        for r in rows
    )


def write_record(hf_dir: Path, model_path: Path, logits: bool) -> Path:
    """Remember a passing verification beside the file (for quant's model card)."""
    import transformers

    stat = model_path.stat()
    data = {
        "passed": True,
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "checkpoint": hf_dir.resolve().name,
        "transformers": transformers.__version__,
        "checks": "token ids and logits" if logits else "token ids",
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
    }
    path = record_path(model_path)
    write_text_atomic(path, json.dumps(data, indent=2) + "\n")
    return path
