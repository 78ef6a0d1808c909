"""What fits where (synthetic RAM figures): the catalogue judged, refusals and their way out."""

from __future__ import annotations

import pytest

from amalia_local import fit
from amalia_local.fit import DoesNotFitError, LoadOptions, Machine, model_facts
from amalia_local.fit.memory import ram_needed
from amalia_local.kv_type import KvType
from amalia_local.store import catalogue

GB = 10**9


def names(fits):
    return [f.name for f in fits]


def test_recommendation_for_synthetic_ram():
    assert fit.recommend(1 * GB) == []
    # 3 GB available -> 2.55 GB budget: only EuroLLM-1.7B Q4_K_M (1.88 GB) fits with an
    # f16 KV cache; with the q8_0 cache the engine then picks, Q8_0 fits too.
    small = fit.recommend(3 * GB)
    assert names(small) == ["eurollm-1.7b:q4_k_m", "eurollm-1.7b:q8_0"]  # default quant first
    assert [f.estimate.kv_type.value for f in small] == ["f16", "q8_0"]
    assert names(fit.recommend(3 * GB, kv_type=KvType.F16)) == ["eurollm-1.7b:q4_k_m"]
    machine = Machine(physical_cores=2, available_ram=3 * GB, gpu_offload=False)
    assert names(fit.recommend(machine)) == names(small)
    # 10 GB -> 8.5 GB budget: the 9B models at Q4_K_M, not at Q8_0 (~12 GB)
    ten = names(fit.recommend(10 * GB))
    assert ten[0] == "amalia:q4_k_m"
    assert "eurollm-9b:q4_k_m" in ten and not any(
        n.endswith("q8_0") and "1.7b" not in n for n in ten
    )
    # 32 GB: everything, AMALIA's default first
    everything = fit.recommend(32 * GB)
    assert len(everything) == sum(len(e.quants) for e in catalogue.entries())
    assert everything[0].name == "amalia:q4_k_m"


def test_catalogue_estimate_is_the_one_formula_at_the_default_context():
    entry = catalogue.load().get("amalia")
    quant = entry.quant("q4_k_m")
    judged = next(f for f in fit.assess(32 * GB) if f.name == "amalia:q4_k_m")
    est = judged.estimate
    assert (est.n_ctx, est.kv_type) == (8192, KvType.F16)
    assert est.weights == quant.size
    # 42 layers x 8 KV heads x (128 + 128) x 2 bytes (f16) per token
    assert est.kv_cache == 42 * 8 * 256 * 2 * 8192
    assert est.total == ram_needed(fit.catalogue_facts(entry, quant), 8192)


def test_ensure_fits_refuses_with_numbers_and_a_way_out():
    cat = catalogue.load()
    big = fit.catalogue_facts(cat.get("amalia"), cat.get("amalia").quant("q8_0"))
    fit.ensure_fits(big, 4096, 32 * GB)  # fits: no error
    with pytest.raises(DoesNotFitError) as smaller:
        fit.ensure_fits(big, 8192, 10 * GB)
    assert smaller.value.key == "error.does_not_fit_model"
    assert smaller.value.params["model"] == "amalia:q4_k_m"
    assert "9B" not in str(smaller.value) and "GB" in str(smaller.value)
    with pytest.raises(DoesNotFitError) as ctx:
        fit.ensure_fits(big, 8192, int(11.9 * GB))  # fits at a smaller context
    assert ctx.value.key == "error.does_not_fit_ctx" and "--ctx" in str(ctx.value)
    with pytest.raises(DoesNotFitError) as nothing:
        fit.ensure_fits(big, 8192, GB // 2)
    assert nothing.value.key == "error.does_not_fit"


def test_run_refuses_a_model_that_does_not_fit_unless_forced(tiny_model, llama_log):
    from amalia_local.model_file import inspect
    from amalia_local.services.loading import open_checked

    needed = ram_needed(model_facts(inspect(tiny_model)), 256)
    small = Machine(physical_cores=1, available_ram=needed // 2, gpu_offload=False)
    load = LoadOptions(n_ctx=256)
    with pytest.raises(DoesNotFitError) as refused:
        open_checked(str(tiny_model), load, llama_log, machine=small)
    assert refused.value.params["n_ctx"] == 256
    with open_checked(str(tiny_model), load, llama_log, force=True, machine=small) as engine:
        assert engine.n_ctx == 256
    roomy = Machine(physical_cores=1, available_ram=needed * 4, gpu_offload=False)
    with open_checked(str(tiny_model), load, llama_log, machine=roomy) as engine:
        assert engine.n_ctx == 256


# --- GPU offload: the fit check still applies ------------------------------------------
def test_unified_memory_counts_the_model_against_total_ram(tiny_model, llama_log):
    from amalia_local.services.loading import open_checked

    # An "8 GB Mac" at the tiny model's scale: Metal offload on, too little memory.
    mac = Machine(
        physical_cores=2,
        available_ram=2 * 10**6,
        gpu_offload=True,
        total_ram=3 * 10**6,
        unified_memory=True,
    )
    with pytest.raises(DoesNotFitError):
        open_checked(str(tiny_model), LoadOptions(n_ctx=256), llama_log, machine=mac)
    assert fit.fit_mode(mac, -1) == fit.FIT_UNIFIED


def test_discrete_gpu_counts_the_offloaded_share_against_free_vram(tiny_model):
    from amalia_local.model_file import inspect

    model = model_facts(inspect(tiny_model))
    needed = ram_needed(model, 256)
    gpu = Machine(physical_cores=2, available_ram=64 * GB, gpu_offload=True, vram_free=needed // 4)
    with pytest.raises(DoesNotFitError) as refused:
        fit.check_fit(model, 256, -1, gpu)
    assert refused.value.key == "error.does_not_fit_vram"
    assert 0 <= refused.value.params["layers"] < model.layers + 1
    assert "--gpu-layers" in str(refused.value)
    # fewer layers offloaded: the share on the GPU fits, the rest goes to RAM
    assert fit.check_fit(model, 256, 0, gpu) == fit.FIT_RAM
    roomy = Machine(physical_cores=2, available_ram=64 * GB, gpu_offload=True, vram_free=GB)
    assert fit.check_fit(model, 256, -1, roomy) == fit.FIT_VRAM


def test_unknown_vram_is_said_not_skipped_silently(tiny_model, llama_log):
    from amalia_local.i18n import Translator
    from amalia_local.runtime import Runtime
    from amalia_local.services.loading import notice_lines, open_checked

    gpu = Machine(physical_cores=2, available_ram=64 * GB, gpu_offload=True, vram_free=None)
    engine = open_checked(str(tiny_model), LoadOptions(n_ctx=256), llama_log, machine=gpu)
    try:
        assert engine.options.fit_check == fit.FIT_UNCHECKED
        lines = notice_lines(engine.options, Runtime(translator=Translator("en")))
        assert lines == [
            "could not check that the model fits in GPU memory: llama.cpp does not report"
            " it here (use --gpu-layers N to offload fewer layers if loading fails)"
        ]
    finally:
        engine.close()
