"""Offline switches: nothing touches the network, installed models keep working."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from store_helpers import AMALIA_FILE, AMALIA_REPO
from tiny_gguf import ANSWER_TEXT

from amalia_local.config import Config
from amalia_local.store import ModelStore
from amalia_local.store.errors import OfflineError

SWITCHES = {
    "flag": (("--offline",), {}),
    "env": ((), {"HF_HUB_OFFLINE": "1"}),
    "config": ((), {}),
}


@pytest.fixture(params=sorted(SWITCHES))
def offline(request, hub_env):
    """Turns one of the three offline switches on; returns (extra CLI args, extra env)."""

    def enable():
        args, env = SWITCHES[request.param]
        if request.param == "config":
            Config(offline=True).save(Path(hub_env["AMALIA_HOME"]) / "config")
        return args, env

    return enable


def test_offline_pull_refuses_at_once_without_a_request(run_amalia, fake_hub, offline):
    args, env = offline()
    start = time.monotonic()
    result = run_amalia(*args, "pull", "amalia", env=env)
    # No request is the proof (below); the time only guards against waiting on a network
    # timeout, with room for a loaded machine's slow start.
    assert time.monotonic() - start < 15
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "offline" in result.stderr
    assert result.stderr.startswith("amalia: amalia is not downloaded")
    assert fake_hub.state.requests == []


def test_installed_models_work_offline(run_amalia, fake_hub, offline, store):
    store.pull("amalia")  # installed while online (in-process: same AMALIA_HOME and HF_HOME)
    fake_hub.state.requests.clear()
    args, env = offline()
    listed = run_amalia(*args, "list", env=env)
    assert listed.returncode == 0 and "amalia:q4_k_m" in listed.stdout
    shown = run_amalia(*args, "show", "amalia", env=env)
    assert shown.returncode == 0 and "SHA-256" in shown.stdout
    again = run_amalia(*args, "pull", "amalia", env=env)
    assert again.returncode == 0 and "already installed" in again.stdout
    answer = run_amalia(
        *args, "run", "amalia", "Olá", "--temperature", "0", "--system", "", env=env
    )
    assert answer.returncode == 0, answer.stderr
    assert answer.stdout == ANSWER_TEXT + "\n"
    doctor = run_amalia(*args, "doctor", "--json", env=env)
    assert doctor.returncode == 0 and '"enabled": true' in doctor.stdout
    assert fake_hub.state.requests == []


def test_offline_pull_uses_files_already_in_the_hf_cache(hub_env, fake_hub, model_bytes):
    from huggingface_hub import hf_hub_download

    hf_hub_download(
        AMALIA_REPO,
        AMALIA_FILE,
        cache_dir=Path(hub_env["HF_HOME"]) / "hub",
        endpoint=fake_hub.endpoint,
    )
    fake_hub.state.requests.clear()
    store = ModelStore.open(environ=hub_env, offline=True)
    result = store.pull("amalia")
    assert result.downloaded == 0 and result.model.name == "amalia:q4_k_m"
    assert fake_hub.state.requests == []
    # a quant tag is matched against the cache's files when offline
    tagged = store.pull(f"hf:{AMALIA_REPO}:Q4_K_M")
    assert tagged.model.path == result.model.path
    with pytest.raises(OfflineError):
        store.pull("hf:someone/tiny-GGUF:Q8_0")
    assert fake_hub.state.requests == []
