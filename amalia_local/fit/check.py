"""Refusing a model that cannot fit where it will be loaded: RAM, unified memory or VRAM.

Past the available memory the OS swaps and generation crawls, which looks like a hang,
so ``run``, the chat and ``serve`` refuse first (``--force`` skips this) and say by how
much, and what would fit instead: a smaller context, a smaller quantization, fewer layers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from amalia_local.fit.catalogue import recommend
from amalia_local.fit.errors import DoesNotFitError
from amalia_local.fit.facts import Machine, ModelFacts
from amalia_local.fit.memory import budget, ram_needed
from amalia_local.fit.settings import MIN_CONTEXT, offloadable_layers, ram_context_cap
from amalia_local.formatting import Bytes, Count
from amalia_local.kv_type import KvType

if TYPE_CHECKING:
    from amalia_local.store.catalogue import Entry

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


def ensure_fits(
    model: ModelFacts,
    n_ctx: int,
    available_ram: int,
    entries: tuple[Entry, ...] | None = None,
    kv_type: KvType = KvType.F16,
) -> None:
    """Refuse a model that cannot fit at ``n_ctx``, naming the numbers and a way out.

    The threshold is all available RAM (not the headroom budget): past it the OS swaps
    and generation crawls, which looks like a hang.
    """
    needed = ram_needed(model, n_ctx, kv_type)
    if needed <= available_ram:
        return
    params = {
        "needed": Bytes(needed),
        "available": Bytes(available_ram),
        "n_ctx": Count(n_ctx),
    }
    if ram_needed(model, MIN_CONTEXT, kv_type) <= budget(available_ram):
        raise DoesNotFitError(
            "error.does_not_fit_ctx", ctx=ram_context_cap(model, available_ram, kv_type), **params
        )
    smaller = [f for f in recommend(available_ram, entries) if f.quant.size < model.file_bytes]
    if smaller:
        raise DoesNotFitError("error.does_not_fit_model", model=smaller[0].name, **params)
    raise DoesNotFitError("error.does_not_fit", **params)


def check_fit(
    model: ModelFacts,
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
        total = ram_needed(model, n_ctx, kv_type)
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
