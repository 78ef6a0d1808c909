"""``amalia tokenize``: the ids the engine would feed the model for a text, like llama-tokenize.

It loads only the vocabulary and tokenizes through the engine's one exact path, so what it
prints is what ``run``, the chat and ``serve`` feed the model (and, for checkpoints whose
files we converted, what transformers gives).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TextIO

from amalia_local.engine.tokenizer import open_vocabulary
from amalia_local.model_file import inspect
from amalia_local.runtime import Runtime


@dataclass(frozen=True)
class TokenizeRequest:
    model: str
    text: str
    special: bool = False  # parse "<|im_start|>" as the special token
    add_bos: bool = True  # BOS/EOS as the file asks (transformers' add_special_tokens=True)
    json_output: bool = False


def tokenize(request: TokenizeRequest, runtime: Runtime, out: TextIO) -> int:
    model = inspect(request.model, runtime.locations.cache_dir)
    with (
        runtime.open_llama_log() as log,
        open_vocabulary(model.path, model.metadata, log.stream) as tokenizer,
    ):
        ids = tokenizer.tokenize(request.text, add_bos=request.add_bos, special=request.special)
        pieces = [tokenizer.token_text(i) for i in ids]
    if request.json_output:
        out.write(json.dumps({"ids": ids, "pieces": pieces}, ensure_ascii=False) + "\n")
        return 0
    t = runtime.t
    width = max([len(str(i)) for i in ids] + [len(t("tokenize.id"))])
    out.write(f"{t('tokenize.id'):>{width}}  {t('tokenize.piece')}\n")
    for token, piece in zip(ids, pieces, strict=True):
        out.write(f"{token:>{width}}  {json.dumps(piece, ensure_ascii=False)}\n")
    out.write(t("tokenize.total", count=runtime.numbers.count(len(ids))) + "\n")
    return 0
