"""Quantization types, named the way llama.cpp names them (``Q4_K_M``, ``IQ4_XS``).

The names and numbers come from gguf's :class:`gguf.LlamaFileType`, which mirrors
llama.cpp's ``llama_ftype``; we only add what the enum does not say: which ggml tensor
type dominates a file of that type (to check an output is what it claims), which types
need an importance matrix, and a nominal bits-per-weight used to size outputs before any
work starts.
"""

from __future__ import annotations

from dataclasses import dataclass

from gguf import GGMLQuantizationType as G
from gguf import LlamaFileType

from quant.errors import UsageError

# The ladder the issue asks for: the rungs worth comparing for a 9B model on a laptop.
DEFAULT_TYPES = ("Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q3_K_M", "IQ4_XS")


@dataclass(frozen=True)
class QuantType:
    """One rung: its llama.cpp name, file type, main tensor type and nominal size."""

    name: str
    ftype: LlamaFileType
    main_tensor_type: G
    # Upper-side estimate of bits per weight, for the free-space check only; the report
    # states the real figure measured from the file.
    nominal_bpw: float
    needs_imatrix: bool = False

    @property
    def is_float(self) -> bool:
        return self.main_tensor_type in (G.F32, G.F16, G.BF16)


def _t(name: str, main: G, bpw: float, needs_imatrix: bool = False) -> QuantType:
    member = "ALL_F32" if name == "F32" else f"MOSTLY_{name}"
    return QuantType(name, LlamaFileType[member], main, bpw, needs_imatrix)


# Main tensor type per file type: llama.cpp's llama_ftype_get_default_type, restated as
# data (the K-quant mixes keep a few tensors at a higher type; the main one dominates).
_TYPES = (
    _t("F32", G.F32, 32.0),
    _t("F16", G.F16, 16.0),
    _t("BF16", G.BF16, 16.0),
    _t("Q8_0", G.Q8_0, 8.5),
    _t("Q6_K", G.Q6_K, 6.6),
    _t("Q5_K_M", G.Q5_K, 5.9),
    _t("Q5_K_S", G.Q5_K, 5.6),
    _t("Q5_1", G.Q5_1, 6.0),
    _t("Q5_0", G.Q5_0, 5.5),
    _t("Q4_K_M", G.Q4_K, 5.0),
    _t("Q4_K_S", G.Q4_K, 4.7),
    _t("Q4_1", G.Q4_1, 5.0),
    _t("Q4_0", G.Q4_0, 4.5),
    _t("IQ4_NL", G.IQ4_NL, 4.6),
    _t("IQ4_XS", G.IQ4_XS, 4.5),
    _t("Q3_K_L", G.Q3_K, 4.4),
    _t("Q3_K_M", G.Q3_K, 4.1),
    _t("Q3_K_S", G.Q3_K, 3.7),
    _t("IQ3_M", G.IQ3_S, 3.9),
    _t("IQ3_S", G.IQ3_S, 3.7),
    _t("IQ3_XS", G.IQ3_S, 3.5),
    _t("IQ3_XXS", G.IQ3_XXS, 3.3, needs_imatrix=True),
    _t("Q2_K", G.Q2_K, 3.4),
    _t("Q2_K_S", G.Q2_K, 3.2, needs_imatrix=True),
    _t("IQ2_M", G.IQ2_S, 3.0, needs_imatrix=True),
    _t("IQ2_S", G.IQ2_XS, 2.8, needs_imatrix=True),
    _t("IQ2_XS", G.IQ2_XS, 2.6, needs_imatrix=True),
    _t("IQ2_XXS", G.IQ2_XXS, 2.4, needs_imatrix=True),
    _t("IQ1_M", G.IQ1_M, 2.0, needs_imatrix=True),
    _t("IQ1_S", G.IQ1_S, 1.9, needs_imatrix=True),
)
QUANT_TYPES: dict[str, QuantType] = {t.name: t for t in _TYPES}

# File types llama.cpp knows but that make no sense for a dense Llama model.
_REFUSED = {
    "TQ1_0": "ternary weights, only for models trained that way (BitNet)",
    "TQ2_0": "ternary weights, only for models trained that way (BitNet)",
    "Q1_0": "1-bit weights, only for models trained that way",
    "MXFP4_MOE": "meant for mixture-of-experts weights",
    "NVFP4": "not supported by llama.cpp's quantizer in this build",
    "GUESSED": "not a quantization type",
}


def parse_types(spec: str, *, have_imatrix: bool = False) -> list[QuantType]:
    """``"Q8_0,q4_k_m"`` -> rungs in the order given; refuses bad names before any work."""
    names = [part.strip().upper() for part in spec.split(",") if part.strip()]
    if not names:
        raise UsageError("--types is empty; give e.g. --types Q8_0,Q4_K_M")
    chosen: list[QuantType] = []
    for name in names:
        if name in _REFUSED:
            raise UsageError(f"type {name} is not supported here: {_REFUSED[name]}")
        qtype = QUANT_TYPES.get(name)
        if qtype is None:
            known = ", ".join(QUANT_TYPES)
            raise UsageError(f"unknown quantization type {name!r}; known types: {known}")
        if qtype.needs_imatrix and not have_imatrix:
            raise UsageError(
                f"type {name} needs an importance matrix (--imatrix); without one llama.cpp's "
                "output is unusable"
            )
        if qtype in chosen:
            raise UsageError(f"type {name} is listed twice in --types")
        chosen.append(qtype)
    return chosen


def file_type_name(raw: int | None) -> str | None:
    """llama.cpp's name for a GGUF's ``general.file_type`` value (``15`` -> ``Q4_K_M``)."""
    if raw is None:
        return None
    try:
        member = LlamaFileType(int(raw)).name
    except ValueError:
        return None
    return "F32" if member == "ALL_F32" else member.removeprefix("MOSTLY_")


FLOAT_FILE_TYPES = frozenset({"F32", "F16", "BF16"})
UNQUANTIZED_TENSOR_TYPES = frozenset({G.F32, G.F16, G.BF16})
