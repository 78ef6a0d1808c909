"""``amalia doctor``, ``list --available`` and ``run --force`` show the fit decisions."""

from __future__ import annotations

import json

from amalia_local import fit


def test_doctor_json_is_plausible(run_amalia):
    result = run_amalia("doctor", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["memory"]["total"] >= data["memory"]["available"] > 0
    assert data["cpu"]["physical_cores"] >= 1 and data["cpu"]["logical_cpus"] >= 1
    assert data["disk"]["store_free"] > 0
    assert data["llama_cpp"]["system_info"] and isinstance(data["llama_cpp"]["gpu_offload"], bool)
    assert data["packages"]["amalia-local"] and data["packages"]["llama-cpp-python"]
    assert data["python"].count(".") == 2
    assert data["offline"] == {"enabled": False, "reason": None}
    assert data["store"]["installed"] == 0
    assert {f["name"] for f in data["fit"]} >= {"amalia:q4_k_m", "eurollm-1.7b:q4_k_m"}
    expected = fit.recommend(data["memory"]["available"])
    assert data["recommended"] == (expected[0].name if expected else None)


def test_doctor_text_in_portuguese(run_amalia):
    result = run_amalia("--lang", "pt", "doctor")
    assert result.returncode == 0
    assert "Núcleos físicos" in result.stdout and "Modelos do catálogo" in result.stdout


def test_list_available_marks_fit_and_installed(run_amalia):
    assert run_amalia("pull", "eurollm-1.7b").returncode == 1  # not on the fake Hub
    assert run_amalia("pull", "amalia").returncode == 0
    data = json.loads(run_amalia("list", "--available", "--json").stdout)
    by_name = {d["name"]: d for d in data}
    assert by_name["amalia:q4_k_m"]["installed"] is True
    assert by_name["amalia:q8_0"]["installed"] is False
    assert all(isinstance(d["fits"], bool) and d["ram_needed"] > d["size"] for d in data)
    text = run_amalia("list", "--available").stdout
    assert "amalia:q4_k_m" in text and "installed" in text


def test_run_accepts_force_flag(run_amalia, tiny_model):
    result = run_amalia(
        "run", str(tiny_model), "Olá", "--temperature", "0", "--ctx", "256", "--force"
    )
    assert result.returncode == 0, result.stderr


def test_doctor_shows_how_memory_is_checked(run_amalia):
    data = json.loads(run_amalia("doctor", "--json").stdout)
    assert data["fit_check"]["mode"] == fit.FIT_RAM  # this CPU-only build
    text = run_amalia("doctor").stdout
    assert "Memory check before loading" in text and "RAM available (CPU only)" in text
