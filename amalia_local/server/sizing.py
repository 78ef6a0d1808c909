"""How many requests to decode together, and how much context each gets.

A pure function of (model, request, machine), like engine/options.py, so a test can ask
what a 4-core, 8 GB machine would get without owning one.
"""

from __future__ import annotations

from dataclasses import dataclass

from amalia_local.engine.options import RAM_HEADROOM, LoadOptions, Machine, resolve
from amalia_local.model_file import ModelFile

# Each request gets this much context unless --ctx says otherwise: chats and editor
# completions rarely need more, and N sequences cost N times the KV cache.
SERVE_CONTEXT_CAP = 4096
MAX_DEFAULT_PARALLEL = 8
MIN_DEFAULT_PARALLEL = 2


@dataclass(frozen=True)
class ServePlan:
    n_parallel: int
    n_ctx_per_seq: int
    n_threads: int
    n_gpu_layers: int


def plan_serving(
    model: ModelFile, load: LoadOptions, parallel: int | None, machine: Machine
) -> ServePlan:
    """Per-request context as ``run`` would choose it (capped); parallel from cores and RAM.

    Batching pays off even on two cores (the weights are read once per step for every
    sequence), so the default is at least two sequences; RAM lowers it, never --parallel.
    """
    resolved = resolve(model, load, machine)
    n_ctx = resolved.n_ctx if load.n_ctx else min(resolved.n_ctx, SERVE_CONTEXT_CAP)
    if parallel is not None:
        n_parallel = parallel
    else:
        n_parallel = max(MIN_DEFAULT_PARALLEL, min(MAX_DEFAULT_PARALLEL, machine.physical_cores))
        budget = int(machine.available_ram * RAM_HEADROOM)
        while n_parallel > 1 and model.ram_needed(n_ctx * n_parallel) > budget:
            n_parallel -= 1
    return ServePlan(
        n_parallel=n_parallel,
        n_ctx_per_seq=n_ctx,
        n_threads=resolved.n_threads,
        n_gpu_layers=resolved.n_gpu_layers,
    )
