"""How many bytes a model takes at a context: weights + KV cache + compute buffers.

The one formula ``info``, ``doctor``, ``list --available``, the first-run offers and the
refusal in ``run``/``serve`` share, so they never disagree about a model.
"""

from __future__ import annotations

from dataclasses import dataclass

from amalia_local.fit.facts import ModelFacts
from amalia_local.kv_type import KvType

# Leave room for the OS, the UI and page cache churn when sizing a model to RAM.
RAM_HEADROOM = 0.85
# llama.cpp's default micro-batch: the compute buffers scale with it.
DEFAULT_BATCH = 512


def budget(ram: int) -> int:
    """The share of ``ram`` a model may take (the rest is for the OS, the UI, page cache)."""
    return int(ram * RAM_HEADROOM)


def kv_bytes_per_token(model: ModelFacts, kv_type: KvType = KvType.F16) -> int:
    """K and V rows of every layer for one position, as llama.cpp lays them out."""
    k_row = kv_type.row_bytes(model.kv_heads * model.key_length)
    v_row = kv_type.row_bytes(model.kv_heads * model.value_length)
    return model.layers * (k_row + v_row)


def kv_cache_bytes(model: ModelFacts, n_ctx: int, kv_type: KvType = KvType.F16) -> int:
    """K and V caches for ``n_ctx`` positions (f16 is llama.cpp's default)."""
    return kv_bytes_per_token(model, kv_type) * n_ctx


def compute_buffer_bytes(model: ModelFacts, n_ctx: int, n_batch: int = DEFAULT_BATCH) -> int:
    """Rough size of llama.cpp's scratch buffers: attention scores, activations, logits.

    An estimate on the safe side; exact figures depend on the backend and the graph.
    """
    attention = model.heads * n_ctx * n_batch * 4
    activations = model.embedding * n_batch * 4 * 8
    logits = model.vocab * 4 * n_batch
    return attention + activations + logits


@dataclass(frozen=True)
class RamEstimate:
    n_ctx: int
    weights: int
    kv_cache: int
    compute: int
    kv_type: KvType = KvType.F16

    @property
    def total(self) -> int:
        return self.weights + self.kv_cache + self.compute


def estimate(model: ModelFacts, n_ctx: int, kv_type: KvType = KvType.F16) -> RamEstimate:
    return RamEstimate(
        n_ctx=n_ctx,
        weights=model.weight_bytes,
        kv_cache=kv_cache_bytes(model, n_ctx, kv_type),
        compute=compute_buffer_bytes(model, n_ctx),
        kv_type=kv_type,
    )


def ram_needed(model: ModelFacts, n_ctx: int, kv_type: KvType = KvType.F16) -> int:
    return estimate(model, n_ctx, kv_type).total
