"""The fit decisions pinned for AMALIA's published shape on machines people have.

Each case states a machine and what ``run`` (``fit.decide``) or ``serve``
(``fit.decide_serving``) must choose there; the figures come from the catalogue's shape
(42 layers, 8 KV heads of 128, 128k vocabulary) and the memory formula, worked out in
the comments, so a change of rule shows up here as a changed decision.
"""

from __future__ import annotations

import pytest

from amalia_local import fit
from amalia_local.fit import DoesNotFitError, LoadOptions, Machine
from amalia_local.kv_type import KvType
from amalia_local.store import catalogue

GB = 10**9


def amalia(tag: str) -> fit.ModelFacts:
    entry = catalogue.load().get("amalia")
    return fit.catalogue_facts(entry, entry.quant(tag))


def cpu(available: float, cores: int = 4) -> Machine:
    return Machine(physical_cores=cores, available_ram=int(available * GB), gpu_offload=False)


def test_a_roomy_laptop_gets_the_full_context_with_an_f16_cache():
    # 5.58 GB weights + 1.41 GB f16 cache + 0.87 GB buffers at 8192 = 7.86 GB < 85% of 12
    decision = fit.decide(amalia("q4_k_m"), LoadOptions(), cpu(12))
    assert (decision.n_ctx, decision.ctx_reason) == (8192, "trained")
    assert (decision.kv_type, decision.kv_reason) == (KvType.F16, "default")
    assert (decision.n_gpu_layers, decision.n_threads) == (0, 4)
    assert decision.fit_check == fit.FIT_RAM and decision.reductions == ()


def test_an_8_gb_machine_gets_a_q8_0_cache_then_a_smaller_context():
    # Budget 6.8 GB: 1.22 GB past the weights; 0.33 GB of fixed buffers leave 0.89 GB at
    # 156,928 bytes per position (q8_0 cache + attention scores): 5,676 -> 5,632 (x256).
    decision = fit.decide(amalia("q4_k_m"), LoadOptions(), cpu(8))
    assert (decision.kv_type, decision.kv_reason) == (KvType.Q8_0, "ram")
    assert (decision.n_ctx, decision.ctx_reason) == (5632, "ram")
    assert decision.fit_check == fit.FIT_RAM


def test_asking_for_more_context_than_fits_is_reduced_and_said():
    decision = fit.decide(amalia("q4_k_m"), LoadOptions(n_ctx=8192), cpu(8))
    (reduction,) = decision.reductions
    assert reduction.as_dict() == {"setting": "n_ctx", "asked": 8192, "used": 5632, "reason": "ram"}


def test_a_user_kv_type_is_kept_even_when_it_costs_context():
    decision = fit.decide(amalia("q4_k_m"), LoadOptions(kv_type=KvType.F16), cpu(8))
    assert (decision.kv_type, decision.kv_reason) == (KvType.F16, "user")
    assert decision.n_ctx < 5632


def test_the_8_bit_model_on_an_8_gb_mac_is_refused_with_a_smaller_model_named():
    # Unified memory: the GPU's share is RAM too, so 9.71 GB of weights cannot fit in 8.
    mac = Machine(4, 6 * GB, gpu_offload=True, total_ram=8 * GB, unified_memory=True)
    with pytest.raises(DoesNotFitError) as refused:
        fit.decide(amalia("q8_0"), LoadOptions(), mac)
    assert refused.value.key == "error.does_not_fit_model"
    # AMALIA Q4_K_M needs 7.19 GB at its 8192 context (> 6.8 GB budget); EuroLLM-9B
    # Q4_K_M, trained on 4096, needs 6.55 GB with a q8_0 cache.
    assert refused.value.params["model"] == "eurollm-9b:q4_k_m"
    assert fit.decide(amalia("q4_k_m"), LoadOptions(), mac).fit_check == fit.FIT_UNIFIED


def test_a_small_discrete_gpu_is_told_how_many_layers_fit_and_that_many_do():
    gpu = Machine(8, 32 * GB, gpu_offload=True, total_ram=32 * GB, vram_free=4 * GB)
    with pytest.raises(DoesNotFitError) as refused:
        fit.decide(amalia("q4_k_m"), LoadOptions(), gpu)  # all 43 layers: 7.86 GB
    assert refused.value.key == "error.does_not_fit_vram"
    layers = refused.value.params["layers"]
    assert layers == 21  # 43 x 4 / 7.86
    decision = fit.decide(amalia("q4_k_m"), LoadOptions(n_gpu_layers=layers), gpu)
    assert (decision.n_gpu_layers, decision.fit_check) == (21, fit.FIT_VRAM)


def test_a_gpu_that_does_not_report_its_memory_is_loaded_unchecked():
    gpu = Machine(8, 32 * GB, gpu_offload=True, total_ram=32 * GB, vram_free=None)
    decision = fit.decide(amalia("q8_0"), LoadOptions(), gpu)
    assert (decision.n_gpu_layers, decision.fit_check) == (-1, fit.FIT_UNCHECKED)


def test_force_decides_the_settings_without_refusing():
    decision = fit.decide(amalia("q8_0"), LoadOptions(), cpu(4), check=False)
    assert (decision.n_ctx, decision.fit_check) == (256, "")  # the smallest context
    with pytest.raises(DoesNotFitError):
        fit.decide(amalia("q8_0"), LoadOptions(), cpu(4))


def test_serve_on_a_two_core_box_runs_two_slots_of_4096():
    # Two slots of 4096 share one 8192-position f16 cache: 7.86 GB in a 13.6 GB budget.
    plan = fit.decide_serving(amalia("q4_k_m"), LoadOptions(), None, cpu(16, cores=2))
    assert (plan.n_parallel, plan.n_ctx_per_seq, plan.n_ctx_total) == (2, 4096, 8192)
    assert plan.fit_check == fit.FIT_RAM


def test_serve_checks_the_whole_shared_cache_not_one_slot():
    # One slot of 8192 fits in 9 GB (7.86 GB); four asked for explicitly do not (12.3 GB).
    request = LoadOptions(n_ctx=8192)
    assert fit.decide_serving(amalia("q4_k_m"), request, 1, cpu(9)).n_parallel == 1
    with pytest.raises(DoesNotFitError) as refused:
        fit.decide_serving(amalia("q4_k_m"), request, 4, cpu(9))
    assert refused.value.params["n_ctx"] == 4 * 8192
    assert fit.decide_serving(amalia("q4_k_m"), request, 4, cpu(9), check=False).n_parallel == 4


def test_serve_on_unified_memory_is_checked_like_run():
    """It was not: with GPU offload on, ``serve`` skipped the check and an 8 GB Mac swapped."""
    mac = Machine(4, 6 * GB, gpu_offload=True, total_ram=8 * GB, unified_memory=True)
    with pytest.raises(DoesNotFitError):
        fit.decide_serving(amalia("q8_0"), LoadOptions(), None, mac)
