"""KV-cache element types: what each costs per value, and what llama.cpp needs for it.

A pure module (no llama.cpp import) because RAM estimates (``info``, ``doctor``, the fit
check) need these sizes without loading anything; the engine maps them onto llama.cpp.
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING

from amalia_local.errors import AmaliaError

if TYPE_CHECKING:
    import gguf


class KvType(str, Enum):
    F16 = "f16"
    Q8_0 = "q8_0"
    Q4_0 = "q4_0"

    @property
    def ggml_type(self) -> gguf.GGMLQuantizationType:
        # gguf (and numpy under it) costs half a second of start-up: only when sizing
        import gguf

        return gguf.GGMLQuantizationType[self.name]

    @property
    def needs_flash_attention(self) -> bool:
        """llama.cpp refuses a quantized V cache unless flash attention is on."""
        return self is not KvType.F16

    def row_bytes(self, n_values: int) -> int:
        """Bytes of one cache row of ``n_values`` (ggml_row_size: whole blocks)."""
        import gguf

        block, size = gguf.GGML_QUANT_SIZES[self.ggml_type]
        return -(-n_values // block) * size

    @classmethod
    def parse(cls, text: str) -> KvType:
        """``"Q8_0"`` or ``"q8_0"``; ValueError names the accepted values."""
        try:
            return cls(text.strip().lower())
        except ValueError:
            choices = ", ".join(k.value for k in cls)
            raise ValueError(f"unknown KV type {text!r} (choose {choices})") from None


KV_TYPE_CHOICES = tuple(k.value for k in KvType)


def from_setting(value: str | None) -> KvType | None:
    """The ``kv_type`` setting (or flag) as a KvType; a bad value is the user's error."""
    if value is None:
        return None
    try:
        return KvType.parse(value)
    except ValueError:
        raise AmaliaError(
            "error.kv_type_setting", choices=", ".join(KV_TYPE_CHOICES), value=value
        ) from None
