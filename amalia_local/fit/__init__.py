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

from __future__ import annotations

from typing import TYPE_CHECKING

from amalia_local.lazy_names import lazy_getattr

if TYPE_CHECKING:
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
    from amalia_local.fit.decisions import decide, decide_serving
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

# Each name is imported from its module when first asked for: ``engine.options`` needs
# only ``LoadOptions``, and the client mode none of this (the catalogue alone is 9 ms).
# No module may be named like one of these names (see lazy_names).
_HOMES = {
    "Fit": "catalogue",
    "assess": "catalogue",
    "recommend": "catalogue",
    "FIT_RAM": "check",
    "FIT_UNCHECKED": "check",
    "FIT_UNIFIED": "check",
    "FIT_VRAM": "check",
    "check_fit": "check",
    "ensure_fits": "check",
    "fit_mode": "check",
    "decide": "decisions",
    "decide_serving": "decisions",
    "DoesNotFitError": "errors",
    "Machine": "facts",
    "ModelFacts": "facts",
    "catalogue_facts": "facts",
    "model_facts": "facts",
    "ram_only_machine": "facts",
    "RAM_HEADROOM": "memory",
    "RamEstimate": "memory",
    "estimate": "memory",
    "ram_needed": "memory",
    "SERVE_CONTEXT_CAP": "serving",
    "ServePlan": "serving",
    "plan_serving": "serving",
    "DEFAULT_CONTEXT_CAP": "settings",
    "MIN_CONTEXT": "settings",
    "LoadOptions": "settings",
    "Reduction": "settings",
    "ResolvedOptions": "settings",
    "resolve": "settings",
}


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


__getattr__ = lazy_getattr(__name__, _HOMES)
