"""A new user's first hour with the store: pull makes a default, rm respects the shared
Hugging Face cache, and a file llama.cpp cannot run is refused before its download."""

from __future__ import annotations

from pathlib import Path

from store_helpers import AMALIA_FILE, AMALIA_REPO, index_models

from amalia_local.config import Config


def _config(env: dict[str, str]) -> Config:
    return Config.load(Path(env["AMALIA_HOME"]) / "config")


def test_pull_sets_the_default_model_once_and_rm_frees_what_amalia_downloaded(
    run_amalia, hub_env, model_bytes
):
    pulled = run_amalia("pull", "amalia")
    assert pulled.returncode == 0, pulled.stderr
    lines = pulled.stdout.splitlines()
    assert lines[-1] == "amalia:q4_k_m is now the default model: 'amalia' opens the chat with it"
    assert _config(hub_env).model == "amalia:q4_k_m"
    # a default the user already has is never replaced
    other = run_amalia("pull", "hf:someone/tiny-GGUF:Q8_0")
    assert other.returncode == 0 and "default model" not in other.stdout
    assert _config(hub_env).model == "amalia:q4_k_m"

    [path] = [Path(m["path"]) for m in index_models(hub_env) if m["name"] == "amalia:q4_k_m"]
    blob = path.resolve()
    removed = run_amalia("rm", "amalia", "--yes")
    assert removed.returncode == 0, removed.stderr
    assert removed.stdout == "amalia:q4_k_m removed (4.5 MB freed)\n"
    assert not blob.exists() and not path.exists()
    assert _config(hub_env).model is None  # the next pull picks a new default


def test_rm_leaves_a_file_another_tool_downloaded_in_the_shared_cache(
    run_amalia, hub_env, fake_hub, store
):
    from huggingface_hub import hf_hub_download

    theirs = Path(
        hf_hub_download(
            AMALIA_REPO,
            AMALIA_FILE,
            cache_dir=Path(hub_env["HF_HOME"]) / "hub",
            endpoint=fake_hub.endpoint,
        )
    )
    assert store.pull("amalia").downloaded == 0  # reused, not downloaded by amalia
    removed = run_amalia("rm", "amalia", "--yes")
    assert removed.returncode == 0, removed.stderr
    assert removed.stdout.startswith(
        "amalia:q4_k_m removed; its file (4.5 MB) stays in the shared Hugging Face cache"
        " because another tool downloaded it: "
    )
    assert removed.stdout.count("\n") == 1
    assert theirs.is_file() and theirs.resolve().is_file()
    assert index_models(hub_env) == []
