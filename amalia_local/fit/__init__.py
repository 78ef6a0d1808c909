"""What fits where: RAM, unified memory, VRAM, KV type, context and parallel slots.

One place decides, from plain facts (:class:`ModelFacts`, :class:`Machine`), for ``run``,
the chat, ``bench``, ``serve``, ``info``/``show``, ``doctor``, ``list --available`` and
the first-run offers that ``pull`` fetches. Pure Python: no llama.cpp, no file reading,
so every decision can be tested for machines we do not own.

* ``decide(model, request, machine, check=True) -> ResolvedOptions`` — load settings,
  after refusing (``DoesNotFitError``) a model that would not fit;
* ``decide_serving(model, request, parallel, machine, check=True) -> ServePlan``;
* ``assess(available_ram) -> list[Fit]`` / ``recommend(...)`` — the catalogue judged;
* ``estimate(model, n_ctx, kv_type) -> RamEstimate`` — the one memory formula.
"""

from amalia_local.fit.catalogue import Fit, assess, recommend
from amalia_local.fit.check import (
    FIT_RAM,
    FIT_UNCHECKED,
    FIT_UNIFIED,
    FIT_VRAM,
    check_fit,
    ensure_fits,
    fit_mode,
)
from amalia_local.fit.decide import decide, decide_serving
from amalia_local.fit.errors import DoesNotFitError
from amalia_local.fit.facts import (
    Machine,
    ModelFacts,
    catalogue_facts,
    model_facts,
    ram_only_machine,
)
from amalia_local.fit.memory import RAM_HEADROOM, RamEstimate, estimate, ram_needed
from amalia_local.fit.serving import SERVE_CONTEXT_CAP, ServePlan, plan_serving
from amalia_local.fit.settings import (
    DEFAULT_CONTEXT_CAP,
    MIN_CONTEXT,
    LoadOptions,
    Reduction,
    ResolvedOptions,
    resolve,
)

__all__ = [
    "DEFAULT_CONTEXT_CAP",
    "FIT_RAM",
    "FIT_UNCHECKED",
    "FIT_UNIFIED",
    "FIT_VRAM",
    "MIN_CONTEXT",
    "RAM_HEADROOM",
    "SERVE_CONTEXT_CAP",
    "DoesNotFitError",
    "Fit",
    "LoadOptions",
    "Machine",
    "ModelFacts",
    "RamEstimate",
    "Reduction",
    "ResolvedOptions",
    "ServePlan",
    "assess",
    "catalogue_facts",
    "check_fit",
    "decide",
    "decide_serving",
    "ensure_fits",
    "estimate",
    "fit_mode",
    "model_facts",
    "plan_serving",
    "ram_needed",
    "ram_only_machine",
    "recommend",
    "resolve",
]
