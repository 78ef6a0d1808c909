"""Context, KV type, threads and GPU layers: what the user asked for, and what we pick.

Context = min(trained length, RAM cap, user setting or our default cap); the KV cache is
f16 unless the wanted context fits only in q8_0. Pure functions of (model facts, request,
machine), so each number can be tested without loading anything and shown to the user
with the reason behind it.
"""

from __future__ import annotations

from dataclasses import dataclass

from amalia_local.fit.facts import Machine, ModelFacts
from amalia_local.fit.memory import budget, ram_needed
from amalia_local.kv_type import KvType

# llama.cpp can go far beyond this, but on a laptop a bigger window mostly costs RAM and
# prompt time; users who need more say so with --ctx.
DEFAULT_CONTEXT_CAP = 8192
MIN_CONTEXT = 256
CONTEXT_STEP = 256


@dataclass(frozen=True)
class LoadOptions:
    """What the user asked for; ``None`` means "pick for me"."""

    n_ctx: int | None = None
    n_threads: int | None = None
    n_gpu_layers: int | None = None
    n_batch: int = 512
    kv_type: KvType | None = None


@dataclass(frozen=True)
class Reduction:
    """A setting the user asked for (flag or config.toml) that we had to lower, and why."""

    setting: str  # "n_ctx" or "n_gpu_layers"
    asked: int
    used: int
    reason: str  # n_ctx: "trained" or "ram"; n_gpu_layers: "no_gpu" or "layers"

    def as_dict(self) -> dict[str, object]:
        return {
            "setting": self.setting,
            "asked": self.asked,
            "used": self.used,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class ResolvedOptions:
    """The decision: what the engine loads with, and why each number is what it is."""

    n_ctx: int
    n_threads: int
    n_gpu_layers: int
    n_batch: int
    ctx_reason: str  # "user", "trained", "ram" or "default cap": shown by info/status
    reductions: tuple[Reduction, ...] = ()
    fit_check: str = ""  # how memory was checked before loading (fit.check); "" = not
    kv_type: KvType = KvType.F16
    kv_reason: str = "default"  # "user", "default", or "ram" (f16 did not fit the context)

    @property
    def flash_attention(self) -> bool:
        return self.kv_type.needs_flash_attention


def default_context(model: ModelFacts) -> int:
    """The context picked when RAM is plentiful: trained length, capped."""
    return min(model.trained_context or DEFAULT_CONTEXT_CAP, DEFAULT_CONTEXT_CAP)


def ram_context_cap(model: ModelFacts, available_ram: int, kv_type: KvType = KvType.F16) -> int:
    """Largest context (a multiple of CONTEXT_STEP) whose estimate fits in available RAM."""
    room = budget(available_ram)
    ctx = MIN_CONTEXT
    limit = max(model.trained_context, DEFAULT_CONTEXT_CAP, MIN_CONTEXT)
    while ctx + CONTEXT_STEP <= limit and ram_needed(model, ctx + CONTEXT_STEP, kv_type) <= room:
        ctx += CONTEXT_STEP
    return ctx


def default_kv_type(model: ModelFacts, available_ram: int, wanted_ctx: int) -> KvType:
    """f16 when the wanted context fits in it; otherwise q8_0, which halves the cache.

    A quantized cache costs a little quality; a context cut in half costs whole turns of
    the conversation, so q8_0 comes before shrinking the context.
    """
    if ram_context_cap(model, available_ram, KvType.F16) >= wanted_ctx:
        return KvType.F16
    return KvType.Q8_0


def offloadable_layers(model: ModelFacts) -> int:
    """Repeating blocks plus the output layer: what llama.cpp can put on a GPU."""
    return model.layers + 1


def resolve(model: ModelFacts, request: LoadOptions, machine: Machine) -> ResolvedOptions:
    """Every setting for this model on this machine (no memory check: see ``decide``).

    Beyond the trained length quality collapses; beyond the RAM cap the machine swaps.
    """
    trained = model.trained_context or DEFAULT_CONTEXT_CAP
    wanted = min(trained, request.n_ctx or DEFAULT_CONTEXT_CAP)
    if request.kv_type is not None:
        kv_type, kv_reason = request.kv_type, "user"
    else:
        kv_type = default_kv_type(model, machine.available_ram, wanted)
        kv_reason = "default" if kv_type is KvType.F16 else "ram"
    candidates = {
        "trained": trained,
        "ram": ram_context_cap(model, machine.available_ram, kv_type),
    }
    if request.n_ctx is not None:
        candidates["user"] = request.n_ctx
    else:
        candidates["default cap"] = DEFAULT_CONTEXT_CAP
    reason, n_ctx = min(candidates.items(), key=lambda item: item[1])
    n_ctx = max(1, n_ctx)
    reductions: list[Reduction] = []
    if request.n_ctx is not None and n_ctx < request.n_ctx:
        reductions.append(Reduction("n_ctx", request.n_ctx, n_ctx, reason))
    n_threads = request.n_threads or machine.physical_cores
    n_gpu_layers, gpu_reduction = _gpu_layers(model, request.n_gpu_layers, machine)
    if gpu_reduction is not None:
        reductions.append(gpu_reduction)
    return ResolvedOptions(
        n_ctx=n_ctx,
        n_threads=max(1, n_threads),
        n_gpu_layers=n_gpu_layers,
        n_batch=request.n_batch,
        ctx_reason=reason,
        reductions=tuple(reductions),
        kv_type=kv_type,
        kv_reason=kv_reason,
    )


def _gpu_layers(
    model: ModelFacts, asked: int | None, machine: Machine
) -> tuple[int, Reduction | None]:
    """-1 (all) when the build can offload and nobody chose; llama.cpp would silently
    run a build without offload on the CPU, and silently cap a count above the model's
    layers, so both are said out loud."""
    if asked is None:
        return (-1 if machine.gpu_offload else 0), None
    if asked == 0:
        return 0, None
    if not machine.gpu_offload:
        return 0, Reduction("n_gpu_layers", asked, 0, "no_gpu")
    most = offloadable_layers(model)
    if asked > most and model.layers:
        return most, Reduction("n_gpu_layers", asked, most, "layers")
    return asked, None
