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


# --- the header is read before the download ----------------------------------------------
BIG = 40 * 1024 * 1024  # above hub.HEAD_CHECK_MIN_SIZE: worth a ranged read first


def _gguf_head(tmp_path: Path, arch: str, **extra_uint16: int) -> bytes:
    import gguf

    path = tmp_path / f"{arch}.gguf"
    writer = gguf.GGUFWriter(str(path), arch)
    for key, value in extra_uint16.items():
        writer.add_uint16(key.replace("_", "."), value)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.close()
    return path.read_bytes()


def _padded(head: bytes) -> bytes:
    return head + b"\0" * (BIG - len(head))


def test_pull_refuses_an_unknown_architecture_before_the_download(
    run_amalia, fake_hub, hub_env, tmp_path
):
    fake_hub.add("someone/odd-GGUF", "odd-Q4_K_M.gguf", _padded(_gguf_head(tmp_path, "mamba9000")))
    result = run_amalia("pull", "hf:someone/odd-GGUF:Q4_K_M")
    assert result.returncode == 1
    assert result.stderr == (
        "amalia: someone/odd-GGUF/odd-Q4_K_M.gguf is a 'mamba9000' model, an architecture"
        " this llama.cpp cannot run; nothing was downloaded\n"
    )
    assert fake_hub.state.bytes_sent <= 2 * 1024 * 1024  # the first megabytes, not 40 MB
    ranged = [r for r in fake_hub.state.requests if r[0] == "GET" and "/resolve/" in r[1]]
    assert [r[2] for r in ranged] == ["bytes=0-2097151"]
    assert index_models(hub_env) == []
    hub_files = [p for p in (Path(hub_env["HF_HOME"]) / "hub").rglob("*") if p.is_file()]
    assert not [p for p in hub_files if p.stat().st_size > 2 * 1024 * 1024]  # nothing orphaned


def test_pull_refuses_one_part_of_a_split_model(run_amalia, fake_hub, tmp_path):
    head = _gguf_head(tmp_path, "llama", split_count=3, split_no=0)
    fake_hub.add("someone/split-GGUF", "big-Q4_K_M.gguf", _padded(head))
    result = run_amalia("pull", "hf:someone/split-GGUF:Q4_K_M")
    assert result.returncode == 1
    assert "one part of a model split into 3 files" in result.stderr
    assert result.stderr.count("\n") == 1
    assert fake_hub.state.bytes_sent <= 2 * 1024 * 1024


def test_a_runnable_big_file_passes_the_header_check(store, fake_hub, model_bytes):
    data = model_bytes + b"\0" * (BIG - len(model_bytes))  # trailing bytes: still loadable
    fake_hub.add("someone/big-GGUF", "big-Q4_K_M.gguf", data)
    result = store.pull("hf:someone/big-GGUF:Q4_K_M")
    assert result.model.size == BIG
    # the header read costs 2 MB once; the file itself moved once
    assert fake_hub.state.bytes_sent == BIG + 2 * 1024 * 1024


def test_a_small_file_refused_after_its_download_is_not_left_in_the_cache(
    run_amalia, fake_hub, hub_env, tmp_path
):
    small = _gguf_head(tmp_path, "mamba9000") + b"\0" * 4096  # below the header-check size
    fake_hub.add("someone/small-GGUF", "small-Q4_K_M.gguf", small)
    result = run_amalia("pull", "hf:someone/small-GGUF:Q4_K_M")
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert "mamba9000" in result.stderr
    repo = Path(hub_env["HF_HOME"]) / "hub" / "models--someone--small-GGUF"
    left = [p for p in repo.rglob("*") if p.is_file() or p.is_symlink()]
    assert [p.relative_to(repo).as_posix() for p in left] == ["refs/main"]  # 40 bytes
    assert index_models(hub_env) == []
