"""Defaults picked from the machine and the model (pure: no model is loaded)."""

from __future__ import annotations

from amalia_local.fit import DEFAULT_CONTEXT_CAP, LoadOptions, Machine, model_facts, resolve
from amalia_local.fit.memory import kv_bytes_per_token, ram_needed
from amalia_local.fit.settings import ram_context_cap
from amalia_local.kv_type import KvType
from amalia_local.model_file import inspect as inspect_file


def inspect(path):
    return model_facts(inspect_file(path))


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
    # q8_0 first, then a smaller context: still less than f16 would have allowed.
    assert resolved.kv_type is KvType.Q8_0 and resolved.kv_reason == "ram"
    assert ram_needed(model, resolved.n_ctx, KvType.Q8_0) <= 400 * 10**6
    assert resolved.n_ctx == ram_context_cap(model, small.available_ram, KvType.Q8_0)
    assert resolved.n_ctx > ram_context_cap(model, small.available_ram, KvType.F16)


def test_q8_0_kv_cache_before_a_smaller_context(smollm):
    """Where f16 would shrink the full context but q8_0 keeps it, q8_0 is the default."""
    model = inspect(smollm)
    full = min(model.trained_context, DEFAULT_CONTEXT_CAP)
    f16_needs = ram_needed(model, full, KvType.F16)
    q8_needs = ram_needed(model, full, KvType.Q8_0)
    assert q8_needs < f16_needs
    # RAM whose budget (85%) holds the q8_0 cache at full context but not the f16 one.
    ram = int((q8_needs + f16_needs) / 2 / 0.85)
    machine = Machine(physical_cores=2, available_ram=ram, gpu_offload=False)
    resolved = resolve(model, LoadOptions(), machine)
    assert (resolved.kv_type, resolved.kv_reason, resolved.n_ctx) == (KvType.Q8_0, "ram", full)
    assert resolved.flash_attention  # llama.cpp needs it for a quantized V cache
    # Plenty of RAM: f16; the user's choice always wins.
    assert resolve(model, LoadOptions(), BIG_MACHINE).kv_type is KvType.F16
    chosen = resolve(model, LoadOptions(kv_type=KvType.Q4_0), BIG_MACHINE)
    assert (chosen.kv_type, chosen.kv_reason) == (KvType.Q4_0, "user")


def test_kv_bytes_per_token_follow_ggml_block_sizes(smollm):
    model = inspect(smollm)  # 30 layers, 3 KV heads of 64: rows of 192 values
    assert kv_bytes_per_token(model, KvType.F16) == 30 * 2 * 192 * 2
    assert kv_bytes_per_token(model, KvType.Q8_0) == 30 * 2 * (192 // 32) * 34
    assert kv_bytes_per_token(model, KvType.Q4_0) == 30 * 2 * (192 // 32) * 18


def test_threads_and_gpu_layers(tiny_model):
    model = inspect(tiny_model)
    assert resolve(model, LoadOptions(), BIG_MACHINE).n_threads == 8
    assert resolve(model, LoadOptions(n_threads=3), BIG_MACHINE).n_threads == 3
    assert resolve(model, LoadOptions(), BIG_MACHINE).n_gpu_layers == 0
    gpu = Machine(physical_cores=8, available_ram=64 * 10**9, gpu_offload=True)
    assert resolve(model, LoadOptions(), gpu).n_gpu_layers == -1
    assert resolve(model, LoadOptions(n_gpu_layers=2), gpu).n_gpu_layers == 2
