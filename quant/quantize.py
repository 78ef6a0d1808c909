"""One rung of the ladder: llama.cpp's own quantizer, called through its C API.

``llama_model_quantize`` is a single blocking C call with no progress callback and no way
to cancel it, so we run it on a worker thread (the main thread stays free to receive
Ctrl-C), read its per-tensor log lines (``[  12/ 291] blk.1.attn_q.weight ...``) for the
progress bar, and let it write to a temporary name that is renamed only when it
succeeded. An interrupted or failed run leaves nothing behind.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path

import llama_cpp

from amalia_local.engine.llama_log import LlamaLogSink
from quant.errors import QuantizeFailed
from quant.imatrix import CImatrix
from quant.types import QuantType

# llama.cpp logs "[%4d/%4d] name - [shape], type = ..." once per tensor, as it starts it.
_TENSOR_LINE = re.compile(r"^\[\s*(\d+)/\s*(\d+)\]")
_LEVEL_ERROR = 4  # GGML_LOG_LEVEL_ERROR (ggml.h)
# After Ctrl-C, how long to wait for llama.cpp to create its output file, so that we can
# delete it: it does so right after reading the source's header.
_OPEN_GRACE_SECONDS = 30.0

TensorCallback = Callable[[int, int], None]


def partial_name(dest: Path) -> Path:
    """Where llama.cpp writes until the file is complete (hidden, beside the result)."""
    return dest.with_name(f".{dest.name}.partial")


def default_threads() -> int:
    """All logical CPUs: quantization is pure compute and scales with every core."""
    return os.cpu_count() or 1


class _TensorWatcher:
    """Turns llama.cpp's log messages into (tensor i, of n) calls; runs on its thread."""

    def __init__(self, on_tensor: TensorCallback | None) -> None:
        self._on_tensor = on_tensor
        self.started = threading.Event()  # the output file exists once tensors flow
        self.done = 0
        self.total = 0
        self.last_error = ""

    def __call__(self, level: int, message: str) -> None:
        if level == _LEVEL_ERROR and message.strip():
            # e.g. "llama_model_quantize: failed to quantize: requantizing from ... disabled"
            self.last_error = message.strip().split("failed to quantize: ", 1)[-1]
            return
        if not message.startswith("["):
            return
        match = _TENSOR_LINE.match(message)
        if match is None:
            return
        self.done, self.total = int(match.group(1)), int(match.group(2))
        self.started.set()
        if self._on_tensor is not None:
            self._on_tensor(self.done, self.total)


def quantize_file(
    source: Path,
    dest: Path,
    qtype: QuantType,
    log: LlamaLogSink,
    *,
    threads: int | None = None,
    allow_requantize: bool = False,
    on_tensor: TensorCallback | None = None,
    imatrix: CImatrix | None = None,
) -> None:
    """Quantize ``source`` into ``dest`` as ``qtype``; ``dest`` appears only when complete.

    ``on_tensor(i, n)`` is called from llama.cpp's thread as tensor ``i`` of ``n`` starts.
    ``imatrix`` weights the rounding of each column by how much the model uses it.
    Raises :class:`QuantizeFailed` with llama.cpp's own last error line on failure.
    """
    params = llama_cpp.llama_model_quantize_default_params()
    params.nthread = threads if threads and threads > 0 else default_threads()
    params.ftype = int(qtype.ftype)
    params.allow_requantize = allow_requantize
    if imatrix is not None:
        params.imatrix = imatrix.pointer  # read during the call; ``imatrix`` keeps it alive
    tmp = partial_name(dest)
    tmp.unlink(missing_ok=True)  # a leftover from a killed run would only confuse
    watcher = _TensorWatcher(on_tensor)
    result: list[int] = []

    def work() -> None:
        result.append(
            llama_cpp.llama_model_quantize(
                str(source).encode("utf-8"), str(tmp).encode("utf-8"), params
            )
        )

    worker = threading.Thread(target=work, name=f"quantize-{qtype.name}", daemon=True)
    previous = log.listener
    log.listener = watcher
    try:
        worker.start()
        while worker.is_alive():
            worker.join(0.25)  # short waits: Ctrl-C is only seen between them
    except BaseException:
        # The C call cannot be stopped. Wait until it has created its output (or ended)
        # so the file we delete is not re-created behind our back, then delete it; the
        # CLI then leaves the process without waiting for the rest of the work.
        deadline = time.monotonic() + _OPEN_GRACE_SECONDS
        while worker.is_alive() and time.monotonic() < deadline:
            if watcher.started.wait(0.05):
                break
        tmp.unlink(missing_ok=True)
        raise
    finally:
        log.listener = previous
        log.stream.flush()
    if not result or result[0] != 0:
        tmp.unlink(missing_ok=True)
        reason = watcher.last_error or "llama.cpp gave no reason (see its log)"
        raise QuantizeFailed(f"quantizing to {qtype.name} failed: {reason}")
    os.replace(tmp, dest)
