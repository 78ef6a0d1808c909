"""Defaults picked from the machine and the model (pure: no model is loaded)."""

from __future__ import annotations

from amalia_local.engine.options import (
    DEFAULT_CONTEXT_CAP,
    LoadOptions,
    Machine,
    ram_context_cap,
    resolve,
)
from amalia_local.model_file import inspect

BIG_MACHINE = Machine(physical_cores=8, available_ram=64 * 10**9, gpu_offload=False)


def test_context_is_min_of_trained_ram_and_user(tiny_model):
    model = inspect(tiny_model)  # trained on 512 tokens
    assert resolve(model, LoadOptions(), BIG_MACHINE).n_ctx == 512
    assert resolve(model, LoadOptions(), BIG_MACHINE).ctx_reason == "trained"
    assert resolve(model, LoadOptions(n_ctx=300), BIG_MACHINE).n_ctx == 300
    assert resolve(model, LoadOptions(n_ctx=4096), BIG_MACHINE).n_ctx == 512


def test_ram_cap_shrinks_context_on_a_small_machine(smollm):
    model = inspect(smollm)  # trained on 8192
    assert resolve(model, LoadOptions(), BIG_MACHINE).n_ctx == min(8192, DEFAULT_CONTEXT_CAP)
    small = Machine(physical_cores=2, available_ram=400 * 10**6, gpu_offload=False)
    resolved = resolve(model, LoadOptions(), small)
    assert resolved.ctx_reason == "ram"
    assert resolved.n_ctx < 8192
    assert model.ram_needed(resolved.n_ctx) <= 400 * 10**6
    assert resolved.n_ctx == ram_context_cap(model, small.available_ram)


def test_threads_and_gpu_layers(tiny_model):
    model = inspect(tiny_model)
    assert resolve(model, LoadOptions(), BIG_MACHINE).n_threads == 8
    assert resolve(model, LoadOptions(n_threads=3), BIG_MACHINE).n_threads == 3
    assert resolve(model, LoadOptions(), BIG_MACHINE).n_gpu_layers == 0
    gpu = Machine(physical_cores=8, available_ram=64 * 10**9, gpu_offload=True)
    assert resolve(model, LoadOptions(), gpu).n_gpu_layers == -1
    assert resolve(model, LoadOptions(n_gpu_layers=2), gpu).n_gpu_layers == 2
