"""Will a model fit in this machine's memory? Answered before a 10-minute download.

Estimates use the very formulas ``amalia info`` and the engine use
(:meth:`ModelFile.ram_needed`: weights + KV cache + compute buffers), applied to a
catalogue entry's published shape, so the recommendation, ``info`` and the refusal in
``run`` never disagree. Everything here is a pure function of numbers, so a test can ask
"what would a 4 GB laptop be offered?" without owning one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gguf

from amalia_local.engine.options import (
    DEFAULT_CONTEXT_CAP,
    MIN_CONTEXT,
    RAM_HEADROOM,
    Machine,
    default_kv_type,
    offloadable_layers,
    ram_context_cap,
)
from amalia_local.formatting import Bytes, Count
from amalia_local.kv_type import KvType
from amalia_local.model_file import ModelFile, TensorExtent
from amalia_local.store.catalogue import Entry, Quant
from amalia_local.store.catalogue import entries as catalogue_entries
from amalia_local.store.errors import DoesNotFitError


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


@dataclass(frozen=True)
class Fit:
    """One catalogue quantization judged against the available RAM."""

    entry: Entry
    quant: Quant
    estimate: RamEstimate
    available_ram: int
    fits: bool

    @property
    def name(self) -> str:
        return f"{self.entry.name}:{self.quant.tag}"

    @property
    def budget(self) -> int:
        """RAM we allow a model to take: the rest is for the OS, the UI and page cache."""
        return int(self.available_ram * RAM_HEADROOM)


def catalogue_model(entry: Entry, quant: Quant) -> ModelFile:
    """A ModelFile stand-in built from catalogue facts, so the engine's own RAM formulas
    apply to a model that is not on disk yet (one extent carrying the published size)."""
    arch = entry.architecture
    prefix = "llama"
    metadata = {
        f"{prefix}.context_length": arch.context,
        f"{prefix}.block_count": arch.layers,
        f"{prefix}.embedding_length": arch.embedding,
        f"{prefix}.attention.head_count": arch.heads,
        f"{prefix}.attention.head_count_kv": arch.kv_heads,
        f"{prefix}.attention.key_length": arch.head_dim,
        f"{prefix}.attention.value_length": arch.head_dim,
    }
    weights = TensorExtent(
        name="weights",
        ggml_type=gguf.GGMLQuantizationType.F32,
        n_elements=arch.parameters,
        start=0,
        n_bytes=quant.size,
    )
    return ModelFile(
        path=_placeholder_path(entry, quant),
        size_bytes=quant.size,
        version=3,
        architecture=prefix,
        metadata=metadata,
        tensors=(weights,),
        vocab_size=arch.vocab,
    )


def _placeholder_path(entry: Entry, quant: Quant) -> Path:
    return Path(quant.file or f"{entry.name}-{quant.tag}.gguf")


def default_context(model: ModelFile) -> int:
    """The context the engine picks when RAM is plentiful: trained length, capped."""
    return min(model.context_length or DEFAULT_CONTEXT_CAP, DEFAULT_CONTEXT_CAP)


def estimate(
    model: ModelFile, n_ctx: int | None = None, kv_type: KvType = KvType.F16
) -> RamEstimate:
    ctx = n_ctx or default_context(model)
    return RamEstimate(
        n_ctx=ctx,
        weights=model.tensor_bytes,
        kv_cache=model.kv_cache_bytes(ctx, kv_type),
        compute=model.compute_buffer_bytes(ctx),
        kv_type=kv_type,
    )


def estimate_for(
    model: ModelFile, available_ram: int, kv_type: KvType | None = None
) -> RamEstimate:
    """The estimate at the default context with the KV type the engine would pick here
    (``kv_type`` when the user chose one): f16, or q8_0 when f16 would not fit."""
    ctx = default_context(model)
    chosen = kv_type or default_kv_type(model, available_ram, ctx)
    return estimate(model, ctx, chosen)


def assess(
    available_ram: int,
    entries: tuple[Entry, ...] | None = None,
    kv_type: KvType | None = None,
) -> list[Fit]:
    """Every catalogue quantization with its RAM estimate and whether it fits.

    Order: catalogue order (the default model first), the default quantization first,
    then larger (better) quantizations before smaller ones.
    """
    fits = []
    for entry in entries if entries is not None else catalogue_entries():
        quants = sorted(entry.quants, key=lambda q: (q.tag != entry.default_quant, -q.size))
        for quant in quants:
            est = estimate_for(catalogue_model(entry, quant), available_ram, kv_type)
            fits.append(
                Fit(
                    entry=entry,
                    quant=quant,
                    estimate=est,
                    available_ram=available_ram,
                    fits=est.total <= int(available_ram * RAM_HEADROOM),
                )
            )
    return fits


def recommend(
    available: int | Machine,
    entries: tuple[Entry, ...] | None = None,
    kv_type: KvType | None = None,
) -> list[Fit]:
    """What this machine can run comfortably, best first; empty when nothing fits.

    ``available`` is the RAM in bytes or an engine ``Machine`` (``current_machine()``).
    """
    ram = available.available_ram if isinstance(available, Machine) else available
    return [f for f in assess(ram, entries, kv_type) if f.fits]


def ensure_fits(
    model: ModelFile,
    n_ctx: int,
    available_ram: int,
    entries: tuple[Entry, ...] | None = None,
    kv_type: KvType = KvType.F16,
) -> None:
    """Refuse a model that cannot fit at ``n_ctx``, naming the numbers and a way out.

    The threshold is all available RAM (not the headroom budget): past it the OS swaps
    and generation crawls, which looks like a hang. ``--force`` skips this check.
    """
    needed = model.ram_needed(n_ctx, kv_type)
    if needed <= available_ram:
        return
    params = {
        "needed": Bytes(needed),
        "available": Bytes(available_ram),
        "n_ctx": Count(n_ctx),
    }
    if model.ram_needed(MIN_CONTEXT, kv_type) <= int(available_ram * RAM_HEADROOM):
        raise DoesNotFitError(
            "error.does_not_fit_ctx", ctx=ram_context_cap(model, available_ram, kv_type), **params
        )
    smaller = [f for f in recommend(available_ram, entries) if f.quant.size < model.size_bytes]
    if smaller:
        raise DoesNotFitError("error.does_not_fit_model", model=smaller[0].name, **params)
    raise DoesNotFitError("error.does_not_fit", **params)


# How a model's memory is checked before loading (``amalia doctor`` shows which applies).
FIT_RAM = "ram"  # CPU only: everything against available RAM
FIT_UNIFIED = "unified"  # Metal / integrated GPU: everything against total RAM
FIT_VRAM = "vram"  # discrete GPU: the offloaded share against free VRAM, the rest RAM
FIT_UNCHECKED = "unchecked"  # discrete GPU whose free memory llama.cpp cannot report


def fit_mode(machine: Machine, n_gpu_layers: int) -> str:
    if n_gpu_layers == 0 or not machine.gpu_offload:
        return FIT_RAM
    if machine.unified_memory:
        return FIT_UNIFIED
    return FIT_VRAM if machine.vram_free is not None else FIT_UNCHECKED


def check_fit(
    model: ModelFile,
    n_ctx: int,
    n_gpu_layers: int,
    machine: Machine,
    kv_type: KvType = KvType.F16,
) -> str:
    """Refuse a model that cannot fit where it will be loaded; returns the mode used.

    GPU offload does not make memory free: on unified memory the weights still live in
    RAM (an 8 GB Mac cannot hold a 9B model at 8 bits), and a discrete GPU holds only
    what it has free. When the GPU's free memory is unknown the caller says so.
    """
    mode = fit_mode(machine, n_gpu_layers)
    if mode == FIT_RAM:
        ensure_fits(model, n_ctx, machine.available_ram, kv_type=kv_type)
    elif mode == FIT_UNIFIED:
        ensure_fits(model, n_ctx, machine.total_ram or machine.available_ram, kv_type=kv_type)
    elif mode == FIT_VRAM:
        assert machine.vram_free is not None
        layers = offloadable_layers(model)
        share = 1.0 if n_gpu_layers < 0 else min(1.0, n_gpu_layers / layers)
        total = model.ram_needed(n_ctx, kv_type)
        on_gpu = int(total * share)
        if on_gpu > machine.vram_free:
            raise DoesNotFitError(
                "error.does_not_fit_vram",
                needed=Bytes(on_gpu),
                available=Bytes(machine.vram_free),
                n_ctx=Count(n_ctx),
                layers=int(layers * machine.vram_free / total) if total else 0,
            )
        if total - on_gpu > machine.available_ram:
            ensure_fits(model, n_ctx, machine.available_ram + on_gpu, kv_type=kv_type)
    return mode
