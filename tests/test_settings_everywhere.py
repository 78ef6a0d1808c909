"""``run`` and ``bench`` use the chat's settings (config.toml), flags winning, and say
out loud every setting they had to reduce."""

from __future__ import annotations

import json
from pathlib import Path

from tiny_gguf import ANSWER_TEXT

from amalia_local.config import Config


def _settings(cli_env: dict[str, str], **values: object) -> None:
    Config(**values).save(Path(cli_env["AMALIA_HOME"]) / "config")  # type: ignore[arg-type]


def test_run_takes_sampling_and_context_from_the_settings(amalia, tiny_model, cli_env):
    _settings(cli_env, temperature=0.0, max_tokens=2, n_ctx=256, system_prompt="")
    result = amalia("run", str(tiny_model), "Olá", "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["text"] == ANSWER_TEXT[:2]  # max_tokens = 2 from config.toml
    assert payload["stats"]["stop_reason"] == "length"
    assert payload["settings"]["n_ctx"] == 256
    assert payload["stats"]["reduced"] == []
    assert result.stderr == ""

    flags = amalia("run", str(tiny_model), "Olá", "--json", "--max-tokens", "40", "--ctx", "300")
    payload = json.loads(flags.stdout)
    assert payload["text"] == ANSWER_TEXT  # the flag wins over the setting
    assert payload["settings"]["n_ctx"] == 300


def test_a_reduced_context_is_reported_on_stderr_and_in_json(amalia, tiny_model, cli_env):
    _settings(cli_env, temperature=0.0)
    result = amalia("run", str(tiny_model), "Olá", "--ctx", "16384", "--json")
    assert result.returncode == 0, result.stderr
    assert result.stderr == (
        "amalia: context 16,384 reduced to 512 tokens: the model was trained on 512\n"
    )
    payload = json.loads(result.stdout)
    assert payload["settings"]["n_ctx"] == 512
    assert payload["stats"]["reduced"] == [
        {"setting": "n_ctx", "asked": 16384, "used": 512, "reason": "trained"}
    ]
    # the same from config.toml, in Portuguese
    _settings(cli_env, temperature=0.0, n_ctx=16384)
    pt = amalia("run", str(tiny_model), "Olá", "--lang", "pt")
    assert pt.returncode == 0 and pt.stdout == ANSWER_TEXT + "\n"
    assert pt.stderr == (
        "amalia: contexto de 16\u202f384 reduzido para 512 tokens: o modelo foi treinado com 512\n"
    )


def test_bench_uses_the_settings_and_reports_reductions(amalia, tiny_model, cli_env):
    _settings(cli_env, n_ctx=16384, gpu_layers=7, threads=1)
    result = amalia("bench", str(tiny_model), "-p", "8", "-n", "4", "-r", "1", "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["n_threads"] == 1
    reduced = {r["setting"]: r for r in payload["reduced"]}
    assert reduced["n_ctx"]["used"] == 512
    # this CPU-only build cannot offload: GPU layers from config.toml become 0, said so
    assert reduced["n_gpu_layers"] == {
        "setting": "n_gpu_layers",
        "asked": 7,
        "used": 0,
        "reason": "no_gpu",
    }
    assert len(result.stderr.splitlines()) == 2
    assert "GPU layers 7 reduced to 0" in result.stderr
