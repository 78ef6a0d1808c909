"""The two questions callers ask, each once: how to load a model here, and how to serve it.

Callers gather the facts (``model_facts(inspect(path))``, ``engine.current_machine()``)
and get back one decision object; ``check=False`` (``--force``, or a load whose size
was decided elsewhere) skips the memory check but not the settings.
"""

from __future__ import annotations

from dataclasses import replace

from amalia_local.fit.check import check_fit
from amalia_local.fit.facts import Machine, ModelFacts
from amalia_local.fit.serving import ServePlan, plan_serving
from amalia_local.fit.settings import LoadOptions, ResolvedOptions, resolve


def decide(
    model: ModelFacts, request: LoadOptions, machine: Machine, *, check: bool = True
) -> ResolvedOptions:
    """Context, KV type, threads and GPU layers for ``run``/the chat/``bench``/``info``;
    with ``check``, refuse (``DoesNotFitError``) what would not fit where it loads."""
    options = resolve(model, request, machine)
    if not check:
        return options
    mode = check_fit(model, options.n_ctx, options.n_gpu_layers, machine, options.kv_type)
    return replace(options, fit_check=mode)


def decide_serving(
    model: ModelFacts,
    request: LoadOptions,
    parallel: int | None,
    machine: Machine,
    *,
    check: bool = True,
) -> ServePlan:
    """Slots and per-slot context for ``serve``; with ``check``, the whole shared cache
    (every slot's context) is checked where it will be loaded, as ``run`` checks one."""
    plan = plan_serving(model, request, parallel, machine)
    if not check:
        return plan
    mode = check_fit(model, plan.n_ctx_total, plan.n_gpu_layers, machine)
    return replace(plan, fit_check=mode)
