"""How many requests ``serve`` decodes together, and how much context each gets.

Batching pays off even on two cores (the weights are read once per step for every
sequence), so the default is at least two sequences; RAM lowers it, never --parallel.
"""

from __future__ import annotations

from dataclasses import dataclass

from amalia_local.fit.facts import Machine, ModelFacts
from amalia_local.fit.memory import budget, ram_needed
from amalia_local.fit.settings import LoadOptions, resolve

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
    fit_check: str = ""  # how memory was checked (fit.check); "" = not (--force)

    @property
    def n_ctx_total(self) -> int:
        """The one shared KV cache holds every sequence's cells."""
        return self.n_parallel * self.n_ctx_per_seq


def plan_serving(
    model: ModelFacts, load: LoadOptions, parallel: int | None, machine: Machine
) -> ServePlan:
    """Per-request context as ``run`` would choose it (capped); parallel from cores and RAM.

    The batch context's cache is f16 (the batch generator does not take a KV type), so
    slots are counted at f16.
    """
    resolved = resolve(model, load, machine)
    n_ctx = resolved.n_ctx if load.n_ctx else min(resolved.n_ctx, SERVE_CONTEXT_CAP)
    if parallel is not None:
        n_parallel = parallel
    else:
        n_parallel = max(MIN_DEFAULT_PARALLEL, min(MAX_DEFAULT_PARALLEL, machine.physical_cores))
        room = budget(machine.available_ram)
        while n_parallel > 1 and ram_needed(model, n_ctx * n_parallel) > room:
            n_parallel -= 1
    return ServePlan(
        n_parallel=n_parallel,
        n_ctx_per_seq=n_ctx,
        n_threads=resolved.n_threads,
        n_gpu_layers=resolved.n_gpu_layers,
    )
