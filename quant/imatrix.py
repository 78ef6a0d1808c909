"""Importance matrix: how strongly each input column of each weight matrix is used.

Low-bit types lose less quality when the quantizer knows which columns of a weight
matter: for every matrix multiplication ``W @ x`` the model performs on calibration
text, we accumulate the mean of ``x_j²`` over all tokens, per input column ``j``, and
hand those means to ``llama_model_quantize`` (its ``imatrix`` parameter: a list of
``{name, data, size}`` entries, which llama-cpp-python exposes as a plain C struct).

Why in Python and not llama.cpp's ``llama-imatrix`` tool: llama-cpp-python does not ship
that tool, and building it means compiling llama.cpp a second time (and keeping the two
builds in step). llama.cpp offers what we need through its C API instead: a scheduler
callback (``cb_eval``) that shows us every graph node as it is computed. We ask to see
the ``MUL_MAT`` nodes whose first operand is a model weight and read the activations
(the second operand) from host memory. The CPU backend is assumed (the activations must
be addressable); the callback is cheap next to the matmuls it observes.

``struct ggml_tensor`` is declared below as in the vendored ggml.h; :func:`_check_layout`
proves the declaration right at run time against ggml's own accessor functions before we
trust any field, and refuses to run if llama.cpp's layout ever changes.
"""

from __future__ import annotations

import ctypes
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import llama_cpp
import numpy as np

from amalia_local.engine.llama_log import LlamaLogSink
from amalia_local.engine.llama_private import library_dir, raw_model
from quant.errors import QuantError
from quant.evaluate import make_windows, open_for_logits, tokenize_text

_MAX_DIMS = 4
_MAX_SRC = 10
_MAX_OP_PARAMS = 64
_MAX_NAME = 64
_GGML_TYPE_F32 = 0


class _GgmlTensor(ctypes.Structure):
    pass


_GgmlTensor._fields_ = [
    ("type", ctypes.c_int),
    ("buffer", ctypes.c_void_p),
    ("ne", ctypes.c_int64 * _MAX_DIMS),
    ("nb", ctypes.c_size_t * _MAX_DIMS),
    ("op", ctypes.c_int),
    ("op_params", ctypes.c_int32 * (_MAX_OP_PARAMS // 4)),
    ("flags", ctypes.c_int32),
    ("src", ctypes.POINTER(_GgmlTensor) * _MAX_SRC),
    ("view_src", ctypes.POINTER(_GgmlTensor)),
    ("view_offs", ctypes.c_size_t),
    ("data", ctypes.c_void_p),
    ("name", ctypes.c_char * _MAX_NAME),
    ("extra", ctypes.c_void_p),
    ("padding", ctypes.c_char * 8),
]


class ImatrixError(QuantError):
    """The importance matrix could not be computed (layout mismatch, empty text)."""


def _ggml() -> ctypes.CDLL:
    """ggml's base library, the one libllama links against, from llama-cpp-python."""
    lib_dir = library_dir()
    for name in ("libggml-base.so", "libggml-base.dylib", "ggml-base.dll"):
        if (lib_dir / name).exists():
            lib = ctypes.CDLL(str(lib_dir / name))
            break
    else:
        raise ImatrixError(f"ggml's base library not found in {lib_dir}")
    lib.ggml_op_name.restype = ctypes.c_char_p
    lib.ggml_op_name.argtypes = [ctypes.c_int]
    lib.ggml_get_name.restype = ctypes.c_char_p
    lib.ggml_get_name.argtypes = [ctypes.c_void_p]
    lib.ggml_nelements.restype = ctypes.c_int64
    lib.ggml_nelements.argtypes = [ctypes.c_void_p]
    lib.ggml_nbytes.restype = ctypes.c_size_t
    lib.ggml_nbytes.argtypes = [ctypes.c_void_p]
    lib.ggml_get_data.restype = ctypes.c_void_p
    lib.ggml_get_data.argtypes = [ctypes.c_void_p]
    lib.ggml_tensor_overhead.restype = ctypes.c_size_t
    return lib


def _op_code(lib: ctypes.CDLL, name: str) -> int:
    for code in range(256):
        op = lib.ggml_op_name(code)
        if op is None:
            break
        if op.decode() == name:
            return code
    raise ImatrixError(f"ggml has no {name} operation")


def _check_layout(lib: ctypes.CDLL, address: int) -> None:
    """Our struct must agree with ggml's accessors on a real tensor, field by field."""
    t = _GgmlTensor.from_address(address)
    ne = math.prod(t.ne)
    ok = (
        lib.ggml_get_name(address) == t.name
        and lib.ggml_nelements(address) == ne
        and (lib.ggml_get_data(address) or 0) == (t.data or 0)
    )
    if not ok:
        raise ImatrixError(
            "this llama.cpp build's ggml_tensor layout differs from the one quant/ knows; "
            "the importance matrix cannot be computed with it"
        )


@dataclass
class _Collector:
    """Accumulates sum of x² per input column, and the number of rows, per weight."""

    mul_mat: int
    lib: ctypes.CDLL
    sums: dict[str, np.ndarray] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    checked: bool = False
    error: BaseException | None = None

    def __call__(self, address: int, ask: bool, _user: ctypes.c_void_p) -> bool:
        try:
            return self._observe(address, ask)
        except BaseException as exc:  # an exception must not cross into C
            self.error = exc
            return False  # stops the graph: decode fails and we report self.error

    def _observe(self, address: int, ask: bool) -> bool:
        t = _GgmlTensor.from_address(address)
        if t.op != self.mul_mat:
            return not ask  # ask: not interested; data phase: carry on
        weight = t.src[0].contents
        name = weight.name.decode("utf-8", errors="replace")
        if not name.endswith(".weight"):
            return not ask  # attention's KQ/KQV products, not model weights
        if ask:
            return True
        if not self.checked:
            _check_layout(self.lib, address)
            _check_layout(self.lib, ctypes.addressof(weight))
            self.checked = True
        x = t.src[1].contents
        if x.type != _GGML_TYPE_F32 or not x.data:
            raise ImatrixError(f"activations for {name} are not f32 in host memory")
        cols = int(x.ne[0])
        shape = tuple(int(n) for n in reversed(x.ne))
        strides = tuple(int(s) for s in reversed(x.nb))
        span = sum((n - 1) * s for n, s in zip(shape, strides, strict=True)) + 4
        raw = (ctypes.c_char * span).from_address(x.data)
        acts = np.ndarray(shape, dtype=np.float32, buffer=raw, strides=strides)
        rows = acts.reshape(-1, cols).astype(np.float64)
        squares = np.einsum("ij,ij->j", rows, rows)
        if name in self.sums:
            if self.sums[name].shape[0] != cols:
                raise ImatrixError(f"{name} was seen with {cols} and {len(self.sums[name])} cols")
            self.sums[name] += squares
            self.counts[name] += rows.shape[0]
        else:
            self.sums[name] = squares
            self.counts[name] = rows.shape[0]
        return True


@dataclass(frozen=True)
class Imatrix:
    """Mean squared activation per input column, per weight tensor name."""

    values: dict[str, np.ndarray]  # float32, what llama.cpp's quantizer reads
    n_tokens: int
    text_name: str

    def entries(self) -> Iterator[tuple[str, np.ndarray]]:
        return iter(sorted(self.values.items()))


def compute(
    model: Path,
    text: str,
    log: LlamaLogSink,
    *,
    text_name: str = "calibration",
    n_ctx: int = 512,
    threads: int = 1,
) -> Imatrix:
    """Run ``text`` through ``model`` and collect the importance matrix on the way."""
    lib = _ggml()
    collector = _Collector(mul_mat=_op_code(lib, "MUL_MAT"), lib=lib)
    callback = llama_cpp.ggml_backend_sched_eval_callback(collector)
    with open_for_logits(model, 64, threads, log) as llm:  # for the vocabulary and weights
        tokens, prefix = tokenize_text(llm, text)
        windows = make_windows(tokens, prefix, n_ctx)
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = n_ctx
        params.n_batch = n_ctx
        params.n_ubatch = n_ctx
        params.n_threads = threads
        params.n_threads_batch = threads
        params.cb_eval = callback
        params.cb_eval_user_data = None
        log.clear_errors()
        ctx = llama_cpp.llama_init_from_model(raw_model(llm), params)
        if not ctx:
            raise ImatrixError(f"llama.cpp could not create a context: {log.failure_reason()}")
        batch = llama_cpp.llama_batch_init(n_ctx, 0, 1)
        try:
            memory = llama_cpp.llama_get_memory(ctx)
            for window in windows.windows:
                llama_cpp.llama_memory_clear(memory, True)
                _fill(batch, window)
                rc = llama_cpp.llama_decode(ctx, batch)
                if collector.error is not None:
                    raise collector.error
                if rc != 0:
                    raise ImatrixError(f"llama.cpp failed to evaluate calibration text ({rc})")
        finally:
            llama_cpp.llama_batch_free(batch)
            llama_cpp.llama_free(ctx)
    if not collector.sums:
        raise ImatrixError("no weight matrix multiplications were observed")
    values = {
        name: (total / collector.counts[name]).astype(np.float32)
        for name, total in collector.sums.items()
    }
    n_tokens = windows.n_scored + len(windows.windows)
    return Imatrix(values=values, n_tokens=n_tokens, text_name=text_name)


def _fill(batch: llama_cpp.llama_batch, window: tuple[int, ...]) -> None:
    """One sequence, logits at every position.

    Asking for every position's logits matters: otherwise llama.cpp drops the rows it
    will not output before the last layer's feed-forward and the output projection,
    and those weights would be measured on one token per window.
    """
    batch.n_tokens = len(window)
    for i, token in enumerate(window):
        batch.token[i] = token
        batch.pos[i] = i
        batch.n_seq_id[i] = 1
        batch.seq_id[i][0] = 0
        batch.logits[i] = True


class CImatrix:
    """The C array ``llama_model_quantize`` reads, kept alive as long as this object."""

    def __init__(self, imatrix: Imatrix) -> None:
        entries = list(imatrix.entries())
        self._names = [name.encode("utf-8") for name, _ in entries]
        self._data = [np.ascontiguousarray(v, dtype=np.float32) for _, v in entries]
        array_type = llama_cpp.llama_model_imatrix_data * (len(entries) + 1)
        self._array = array_type()
        for i, (name, data) in enumerate(zip(self._names, self._data, strict=True)):
            self._array[i].name = name
            self._array[i].data = data.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
            self._array[i].size = data.size
        self._array[len(entries)].name = None  # the terminator llama.cpp looks for

    @property
    def pointer(self) -> ctypes._Pointer:  # type: ignore[type-arg]
        return ctypes.cast(self._array, ctypes.POINTER(llama_cpp.llama_model_imatrix_data))
