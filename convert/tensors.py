"""Hugging Face tensor names, shapes and layouts → GGUF tensors for llama.cpp's ``llama``.

Names go through gguf's own ``TensorNameMap`` so we never restate llama.cpp's naming.
Shapes are checked against config.json here, before the output file is created, so a
checkpoint that disagrees with its config fails fast with the offending tensor named.

The one layout change is RoPE's. Hugging Face Llama rotates the pair (x[i], x[i+d/2])
of each head (the "half-split" layout its weight conversion script produced), while
llama.cpp's ``llama`` architecture rotates adjacent pairs (x[2i], x[2i+1]). Because the
query/key vectors come out of ``q_proj``/``k_proj`` row by row, reordering the rows of
each head so that HF row i lands at 2i and HF row i+d/2 at 2i+1 makes llama.cpp rotate
exactly the pairs HF rotates; the attention scores, hence the logits, are unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

import gguf
import numpy as np

from convert.errors import CorruptCheckpointError, ShapeMismatchError, UnsupportedError
from convert.hparams import ModelConfig, llama3_rope_factors
from convert.safetensors_reader import FLOAT_DTYPES, TensorRef

Q = gguf.GGMLQuantizationType
MT = gguf.MODEL_TENSOR
_F16_MAX = float(np.finfo(np.float16).max)


class OutType(str, Enum):
    """User-facing output precisions (``--outtype``)."""

    AUTO = "auto"
    F32 = "f32"
    F16 = "f16"
    BF16 = "bf16"
    Q8_0 = "q8_0"


# what each --outtype means for 2-D weights, and the file type llama.cpp reports
WEIGHT_TYPE = {OutType.F32: Q.F32, OutType.F16: Q.F16, OutType.BF16: Q.BF16, OutType.Q8_0: Q.Q8_0}
FILE_TYPE = {
    OutType.F32: gguf.LlamaFileType.ALL_F32,
    OutType.F16: gguf.LlamaFileType.MOSTLY_F16,
    OutType.BF16: gguf.LlamaFileType.MOSTLY_BF16,
    OutType.Q8_0: gguf.LlamaFileType.MOSTLY_Q8_0,
}


def resolve_auto(refs: Iterable[TensorRef]) -> OutType:
    """``auto`` keeps the checkpoint's own precision, so conversion itself loses nothing."""
    dtypes = {r.dtype for r in refs if r.dtype in FLOAT_DTYPES and len(r.shape) > 1}
    if dtypes == {"F32"}:
        return OutType.F32
    if dtypes == {"F16"}:
        return OutType.F16
    return OutType.BF16


@dataclass(frozen=True)
class TensorPlan:
    """One output tensor: where it comes from, what it becomes and how many bytes that is."""

    name: str
    shape: tuple[int, ...]  # numpy order (rows first), as in the checkpoint
    out_type: Q
    ref: TensorRef | None = None  # None for tensors we synthesise (rope_freqs)
    data: np.ndarray | None = None
    rope_permute: bool = False  # Q/K: undo HF's half-split RoPE layout, head by head
    head_dim: int = 1

    @property
    def nbytes(self) -> int:
        return tensor_nbytes(self.shape, self.out_type)

    @property
    def row_multiple(self) -> int:
        """Rows that must stay together in one block (a whole head for Q/K)."""
        return self.head_dim if self.rope_permute else 1


def tensor_nbytes(shape: tuple[int, ...], qtype: Q) -> int:
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    n = int(np.prod(shape)) if shape else 1
    return n // block * size


def _expected_shape(cfg: ModelConfig, kind: MT, is_bias: bool) -> tuple[int, ...] | None:
    h, hd = cfg.hidden_size, cfg.head_dim
    q_out, kv_out = cfg.num_heads * hd, cfg.num_kv_heads * hd
    weights: dict[MT, tuple[int, ...]] = {
        MT.TOKEN_EMBD: (cfg.vocab_size, h),
        MT.OUTPUT: (cfg.vocab_size, h),
        MT.OUTPUT_NORM: (h,),
        MT.ATTN_NORM: (h,),
        MT.FFN_NORM: (h,),
        MT.ATTN_Q: (q_out, h),
        MT.ATTN_K: (kv_out, h),
        MT.ATTN_V: (kv_out, h),
        MT.ATTN_OUT: (h, q_out),
        MT.FFN_GATE: (cfg.intermediate_size, h),
        MT.FFN_UP: (cfg.intermediate_size, h),
        MT.FFN_DOWN: (h, cfg.intermediate_size),
    }
    shape = weights.get(kind)
    if shape is None:
        return None
    return shape[:1] if is_bias else shape


def _required(cfg: ModelConfig) -> list[tuple[MT, int | None]]:
    req: list[tuple[MT, int | None]] = [(MT.TOKEN_EMBD, None), (MT.OUTPUT_NORM, None)]
    if not cfg.tie_embeddings:
        req.append((MT.OUTPUT, None))
    per_layer = (
        MT.ATTN_NORM,
        MT.ATTN_Q,
        MT.ATTN_K,
        MT.ATTN_V,
        MT.ATTN_OUT,
        MT.FFN_NORM,
        MT.FFN_GATE,
        MT.FFN_UP,
        MT.FFN_DOWN,
    )
    req += [(k, b) for b in range(cfg.num_layers) for k in per_layer]
    return req


def _weight_type(out: OutType, shape: tuple[int, ...]) -> Q:
    if len(shape) < 2:
        return Q.F32  # norms and biases: tiny, and llama.cpp computes them in f32
    qtype = WEIGHT_TYPE[out]
    block, _ = gguf.GGML_QUANT_SIZES[qtype]
    if shape[-1] % block != 0:
        return Q.F16  # rows that do not fill whole Q8_0 blocks stay f16
    return qtype


def plan_tensors(cfg: ModelConfig, refs: dict[str, TensorRef], out: OutType) -> list[TensorPlan]:
    """Map, validate and order every output tensor; raises before anything is written."""
    name_map = gguf.get_tensor_name_map(cfg.arch, cfg.num_layers)
    allowed = set(gguf.MODEL_TENSORS[cfg.arch])
    plans: list[TensorPlan] = []
    found: set[tuple[MT, int | None]] = set()
    for hf_name in sorted(refs, key=_natural_key):
        ref = refs[hf_name]
        if hf_name.endswith("rotary_emb.inv_freq"):
            continue  # recomputed by llama.cpp from the RoPE keys
        if hf_name == "lm_head.weight" and cfg.tie_embeddings:
            continue  # transformers ties it to the embedding; llama.cpp does the same
        mapped = name_map.get_type_and_name(hf_name, try_suffixes=(".weight", ".bias"))
        if mapped is None or mapped[0] not in allowed:
            raise UnsupportedError(
                f"tensor {hf_name!r} has no counterpart in llama.cpp's {cfg.arch_name} architecture"
            )
        kind, gguf_name = mapped
        is_bias = hf_name.endswith(".bias")
        expected = _expected_shape(cfg, kind, is_bias)
        if expected is None:
            raise UnsupportedError(f"tensor {hf_name!r} ({kind.name}) is not supported")
        if ref.shape != expected:
            raise ShapeMismatchError(
                f"tensor {hf_name} has shape {list(ref.shape)} but config.json implies "
                f"{list(expected)}"
            )
        if ref.dtype not in FLOAT_DTYPES:
            raise UnsupportedError(f"tensor {hf_name} has unsupported dtype {ref.dtype}")
        bid = _block_id(hf_name)
        if not is_bias:
            found.add((kind, bid))
        plans.append(
            TensorPlan(
                name=gguf_name,
                shape=ref.shape,
                out_type=_weight_type(out, ref.shape),
                ref=ref,
                rope_permute=kind in (MT.ATTN_Q, MT.ATTN_K),
                head_dim=cfg.head_dim,
            )
        )
    missing = [k for k in _required(cfg) if k not in found]
    if missing:
        kind, bid = missing[0]
        where = f" in block {bid}" if bid is not None else ""
        raise CorruptCheckpointError(
            f"checkpoint has no {gguf.TENSOR_NAMES[kind].format(bid=bid)} tensor{where} "
            f"({len(missing)} missing in total)"
        )
    if cfg.rope.kind == "llama3":
        factors = llama3_rope_factors(cfg)
        plans.insert(
            0,
            TensorPlan(
                name=gguf.TENSOR_NAMES[MT.ROPE_FREQS] + ".weight",
                shape=factors.shape,
                out_type=Q.F32,
                data=factors,
            ),
        )
    return plans


def _block_id(name: str) -> int | None:
    parts = name.split(".")
    for i, p in enumerate(parts[:-1]):
        if p == "layers" and parts[i + 1].isdigit():
            return int(parts[i + 1])
    return None


def _natural_key(name: str) -> list[object]:
    """Global tensors first, then block by block (llama.cpp looks tensors up by name; a
    stable order makes files reproducible and easy to inspect)."""
    bid = _block_id(name)
    return [-1 if bid is None else bid, name]


def undo_rope_permutation(block: np.ndarray, head_dim: int) -> np.ndarray:
    """Reorder rows of whole heads from HF's half-split to llama.cpp's interleaved pairs."""
    rows = block.shape[0]
    if rows % head_dim != 0:
        raise CorruptCheckpointError("Q/K block does not hold whole heads")
    n = rows // head_dim
    rest = block.shape[1:]
    return np.ascontiguousarray(
        block.reshape(n, 2, head_dim // 2, *rest).swapaxes(1, 2).reshape(block.shape)
    )


def _to_f32(block: np.ndarray, dtype: str) -> np.ndarray:
    if dtype == "BF16":
        # bf16 is the top half of an f32: widen and shift in one pass, one allocation
        out = np.empty(block.shape, dtype=np.uint32)
        np.left_shift(block, 16, out=out, dtype=np.uint32)
        return out.view(np.float32)
    return block.astype(np.float32, copy=False)


def encode_block(plan: TensorPlan, block: np.ndarray) -> tuple[np.ndarray, bool]:
    """Convert one block of source rows to the output type's bytes.

    Returns the encoded array and whether any value overflowed f16's range (such values
    become infinities, which is worth a warning).
    """
    assert plan.ref is not None
    src = plan.ref.dtype
    if plan.rope_permute:
        block = undo_rope_permutation(block, plan.head_dim)
    qtype = plan.out_type
    # bit-exact pass-through when the precision does not change
    if (
        (qtype == Q.BF16 and src == "BF16")
        or (qtype == Q.F16 and src == "F16")
        or (qtype == Q.F32 and src == "F32")
    ):
        return np.ascontiguousarray(block), False
    f32 = _to_f32(block, src)
    if qtype == Q.F32:
        return f32, False
    if qtype == Q.F16:
        # max and min rather than abs: no block-sized temporary
        overflow = (
            src != "F16"
            and f32.size > 0
            and (float(f32.max()) > _F16_MAX or float(f32.min()) < -_F16_MAX)
        )
        with np.errstate(over="ignore"):  # reported once per tensor by the caller
            return f32.astype(np.float16), overflow
    if qtype in (Q.BF16, Q.Q8_0):
        return gguf.quants.quantize(f32, qtype), False
    raise UnsupportedError(f"output type {qtype.name} is not supported")
