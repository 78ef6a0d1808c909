"""How many requests ``serve`` decodes together, from cores and RAM (fit/serving.py)."""

from __future__ import annotations

import pytest

from amalia_local.fit import (
    RAM_HEADROOM,
    SERVE_CONTEXT_CAP,
    LoadOptions,
    Machine,
    model_facts,
    plan_serving,
)
from amalia_local.fit.errors import DoesNotFitError
from amalia_local.fit.memory import ram_needed
from amalia_local.model_file import inspect as inspect_file
from amalia_local.server.host import HostSettings, ModelHost


def inspect(path):
    return model_facts(inspect_file(path))


GB = 1 << 30


def test_parallel_follows_cores_within_bounds(tiny_model):
    model = inspect(str(tiny_model))
    plan = lambda cores: plan_serving(model, LoadOptions(), None, Machine(cores, 64 * GB, False))  # noqa: E731
    assert plan(1).n_parallel == 2  # batching pays even on one core
    assert plan(4).n_parallel == 4
    assert plan(32).n_parallel == 8


def test_ram_lowers_the_default_but_not_an_explicit_parallel(tiny_model):
    model = inspect(str(tiny_model))
    n_ctx = 512
    load = LoadOptions(n_ctx=n_ctx)
    # Room for three sequences' worth of KV cache, not four.
    ram = int(ram_needed(model, n_ctx * 3) / RAM_HEADROOM) + 1
    machine = Machine(8, ram, False)
    assert plan_serving(model, load, None, machine).n_parallel == 3
    assert plan_serving(model, load, 6, machine).n_parallel == 6


def test_context_per_request_is_capped_unless_asked(tiny_model):
    model = inspect(str(tiny_model))
    machine = Machine(4, 64 * GB, False)
    default = plan_serving(model, LoadOptions(), None, machine).n_ctx_per_seq
    assert default <= SERVE_CONTEXT_CAP
    assert plan_serving(model, LoadOptions(n_ctx=300), None, machine).n_ctx_per_seq == 300


def test_serve_refuses_a_model_too_big_for_unified_memory(tiny_model, llama_log):
    """``serve`` with GPU offload on used to skip the fit check that ``run`` makes."""
    needed = ram_needed(inspect(str(tiny_model)), 256)
    mac = Machine(2, needed // 4, True, total_ram=needed // 2, unified_memory=True)
    settings = HostSettings(str(tiny_model), "tiny", LoadOptions(n_ctx=256), parallel=1)
    with pytest.raises(DoesNotFitError):
        ModelHost(settings, llama_log, machine_probe=lambda: mac)
    forced = ModelHost(
        HostSettings(str(tiny_model), "tiny", LoadOptions(n_ctx=256), parallel=1, force=True),
        llama_log,
        machine_probe=lambda: mac,
    )
    assert (forced.plan.n_parallel, forced.plan.fit_check) == (1, "")
