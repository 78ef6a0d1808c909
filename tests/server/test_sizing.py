"""How many requests ``serve`` decodes together, from cores and RAM (server/sizing.py)."""

from __future__ import annotations

from amalia_local.engine.options import RAM_HEADROOM, LoadOptions, Machine
from amalia_local.model_file import inspect
from amalia_local.server.sizing import SERVE_CONTEXT_CAP, plan_serving

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
    ram = int(model.ram_needed(n_ctx * 3) / RAM_HEADROOM) + 1
    machine = Machine(8, ram, False)
    assert plan_serving(model, load, None, machine).n_parallel == 3
    assert plan_serving(model, load, 6, machine).n_parallel == 6


def test_context_per_request_is_capped_unless_asked(tiny_model):
    model = inspect(str(tiny_model))
    machine = Machine(4, 64 * GB, False)
    default = plan_serving(model, LoadOptions(), None, machine).n_ctx_per_seq
    assert default <= SERVE_CONTEXT_CAP
    assert plan_serving(model, LoadOptions(n_ctx=300), None, machine).n_ctx_per_seq == 300
