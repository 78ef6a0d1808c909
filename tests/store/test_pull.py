"""``amalia pull`` against a fake Hub that huggingface_hub's real client talks to."""

from __future__ import annotations

import itertools
import subprocess
import sys
import time
from pathlib import Path

import huggingface_hub.constants
import pytest
from fake_hub import SilentServer
from store_helpers import AMALIA_FILE, AMALIA_REPO, index_models, sha256
from tiny_gguf import ANSWER_TEXT
from user_process import user_cwd

from amalia_local.store import ModelStore
from amalia_local.store.errors import ChecksumError, DownloadError, HubNotFoundError
from amalia_local.store.hub import partial_path


def test_pull_by_catalogue_name_registers_and_runs(run_amalia, hub_env, fake_hub, model_bytes):
    result = run_amalia("pull", "amalia")
    assert result.returncode == 0, result.stderr
    assert "amalia:q4_k_m" in result.stdout and "sha256" in result.stdout
    [model] = index_models(hub_env)
    assert model["name"] == "amalia:q4_k_m"
    assert model["sha256"] == sha256(model_bytes)
    assert model["size"] == len(model_bytes)
    assert model["repo"] == AMALIA_REPO and model["filename"] == AMALIA_FILE
    assert model["commit"] and model["installed_at"]
    # the file sits in the Hugging Face cache (HF_HOME), where other tools find it
    assert Path(model["path"]).is_relative_to(Path(hub_env["HF_HOME"]) / "hub")
    assert Path(model["path"]).read_bytes() == model_bytes
    assert fake_hub.state.bytes_sent == len(model_bytes)

    again = run_amalia("pull", "amalia")
    assert again.returncode == 0 and "already installed" in again.stdout
    assert fake_hub.state.bytes_sent == len(model_bytes)  # nothing downloaded twice

    answer = run_amalia("run", "amalia", "Olá", "--temperature", "0", "--system", "")
    assert answer.returncode == 0, answer.stderr
    assert answer.stdout == ANSWER_TEXT + "\n"


def test_hub_quant_tag_picks_the_matching_file(store, fake_hub, model_bytes):
    result = store.pull("hf:someone/tiny-GGUF:Q8_0")
    assert result.model.filename == "tiny-Q8_0.gguf"
    assert result.model.size == len(model_bytes) + 32
    assert store.find("hf:someone/tiny-GGUF:q8_0") == result.model
    assert store.find("hf:someone/tiny-GGUF/tiny-Q8_0.gguf") == result.model
    assert store.find("hf:someone/tiny-GGUF:q4_k_m") is None
    # an exact hf: file of a catalogue entry is stored under its catalogue name
    exact = store.pull(f"hf:{AMALIA_REPO}/{AMALIA_FILE}")
    assert exact.model.name == "amalia:q4_k_m"
    assert store.find("amalia") == exact.model


def test_pull_from_huggingface_cache_downloads_nothing(store, fake_hub, model_bytes, hub_env):
    from huggingface_hub import hf_hub_download

    # Another tool fetched the file first, through huggingface_hub's normal path.
    hf_hub_download(
        AMALIA_REPO,
        AMALIA_FILE,
        cache_dir=Path(hub_env["HF_HOME"]) / "hub",
        endpoint=fake_hub.endpoint,
    )
    sent = fake_hub.state.bytes_sent
    result = store.pull("amalia")
    assert result.downloaded == 0
    assert fake_hub.state.bytes_sent == sent
    assert result.model.sha256 == sha256(model_bytes)


@pytest.fixture
def small_chunks(monkeypatch):
    """http_get hands bytes over in DOWNLOAD_CHUNK_SIZE pieces (10 MB): a cut inside the
    first piece would lose it all and prove nothing on a 4.5 MB file. Smaller pieces
    exercise exactly the same resume path at test scale."""
    monkeypatch.setattr(huggingface_hub.constants, "DOWNLOAD_CHUNK_SIZE", 64 * 1024)


def test_connection_cut_resumes_without_refetching(store, fake_hub, model_bytes, small_chunks):
    half = len(model_bytes) // 2
    fake_hub.state.cut_after = half
    result = store.pull("amalia")
    assert result.model.sha256 == sha256(model_bytes)
    gets = [r for r in fake_hub.state.requests if r[0] == "GET" and "/resolve/" in r[1]]
    assert len(gets) == 2
    resumed_at = int(gets[1][2].removeprefix("bytes=").rstrip("-"))
    assert half - 64 * 1024 < resumed_at <= half
    # the first half was not sent again
    assert fake_hub.state.bytes_sent == len(model_bytes) + (half - resumed_at)


def test_interrupted_pull_resumes_in_the_next_run(store, fake_hub, model_bytes, small_chunks):
    half = len(model_bytes) // 2
    fake_hub.state.cut_after = half
    fake_hub.state.fail_after_cut = True  # the network stays down after the cut
    with pytest.raises(DownloadError):
        store.pull("amalia")
    assert store.installed() == []
    etag = sha256(model_bytes)
    partial = partial_path(store.hub, AMALIA_REPO, etag)
    kept = partial.stat().st_size
    assert half - 64 * 1024 < kept <= half

    fake_hub.state.fail_after_cut = False
    fake_hub.state.bytes_sent = 0
    result = store.pull("amalia")
    assert result.model.sha256 == etag
    assert result.downloaded == len(model_bytes) - kept
    assert fake_hub.state.bytes_sent == len(model_bytes) - kept
    assert fake_hub.state.requests[-2][2] == f"bytes={kept}-"
    assert not partial.exists()


def test_wrong_sha256_is_rejected_and_not_registered(run_amalia, hub_env, fake_hub, model_bytes):
    fake_hub.add(AMALIA_REPO, AMALIA_FILE, model_bytes, published_sha256="ab" * 32)
    result = run_amalia("pull", "amalia")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("amalia: ") and "corrupt" in lines[0]
    assert "Traceback" not in result.stderr
    assert index_models(hub_env) == []
    blobs = Path(hub_env["HF_HOME"]) / "hub" / "models--teex-pt--AMALIA-9B-0626-DPO-GGUF" / "blobs"
    assert list(blobs.iterdir()) == []  # neither the bad blob nor a partial file is kept


def test_wrong_sha256_in_process_raises_typed_error(store, fake_hub, model_bytes):
    fake_hub.add("someone/tiny-GGUF", "tiny-Q4_K_M.gguf", model_bytes, published_sha256="0" * 64)
    with pytest.raises(ChecksumError):
        store.pull("hf:someone/tiny-GGUF")
    assert store.installed() == []


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("hf:nobody/missing-GGUF:Q4_K_M", "repository nobody/missing-GGUF not found"),
        ("hf:nobody/missing-GGUF/x.gguf", "repository nobody/missing-GGUF not found"),
        ("hf:someone/tiny-GGUF/absent.gguf", "file absent.gguf not found"),
        ("hf:someone/tiny-GGUF:Q2_K", "no GGUF file for quantization q2_k"),
    ],
)
def test_missing_repo_or_file_gives_one_clear_line(run_amalia, name, expected):
    result = run_amalia("pull", name)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and expected in result.stderr, result.stderr


def test_hub_not_found_is_typed(store):
    with pytest.raises(HubNotFoundError):
        store.pull("hf:nobody/missing-GGUF:Q4_K_M")


def _start_up(run_amalia) -> float:
    """Seconds the same command takes when it refuses before any request (offline):
    what a loaded machine adds to starting Python and importing the store, not the wait
    the tests below bound."""
    start = time.monotonic()
    run_amalia("--offline", "pull", "amalia")
    return time.monotonic() - start


def test_unreachable_endpoint_fails_fast(run_amalia):
    silent = SilentServer()  # accepts connections and never answers
    try:
        start_up = _start_up(run_amalia)
        start = time.monotonic()
        result = run_amalia("pull", "amalia", env={"HF_ENDPOINT": silent.endpoint})
        elapsed = time.monotonic() - start
    finally:
        silent.close()
    assert result.returncode == 1
    assert "cannot reach the model hub" in result.stderr
    assert result.stderr.count("\n") == 1
    # The 3 s deadline, not huggingface_hub's own timeouts (6 s and more) nor a hang.
    assert elapsed - start_up < 5.0, (elapsed, start_up)


def test_refused_connection_fails_fast(run_amalia):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start_up = _start_up(run_amalia)
    start = time.monotonic()
    result = run_amalia("pull", "amalia", env={"HF_ENDPOINT": f"http://127.0.0.1:{port}"})
    assert time.monotonic() - start - start_up < 5.0
    assert result.returncode == 1 and "cannot reach the model hub" in result.stderr


def test_two_concurrent_pulls_share_one_download(hub_env, fake_hub, model_bytes):
    fake_hub.state.throttle = 0.01  # ~0.7 s per download: the two runs overlap
    command = [sys.executable, "-m", "amalia_local", "pull", "amalia"]
    procs = [
        subprocess.Popen(
            command,
            env=hub_env,
            cwd=user_cwd(hub_env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    [model] = index_models(hub_env)
    assert model["sha256"] == sha256(model_bytes)
    assert Path(model["path"]).read_bytes() == model_bytes
    assert fake_hub.state.bytes_sent == len(model_bytes)  # the second waited, then reused


def test_pull_unknown_name(run_amalia):
    result = run_amalia("pull", "no-such-model")
    assert result.returncode == 1 and "no model or file called 'no-such-model'" in result.stderr
    bad = run_amalia("pull", "amalia:q3_xyz")
    assert bad.returncode == 1 and "no quantization 'q3_xyz'" in bad.stderr


def test_store_api_progress_callback(store, model_bytes):
    seen: list[tuple[int, int | None]] = []
    store.pull("amalia", progress=lambda done, total: seen.append((done, total)))
    assert seen[0] == (0, len(model_bytes))
    assert seen[-1] == (len(model_bytes), len(model_bytes))
    assert all(a[0] <= b[0] for a, b in itertools.pairwise(seen))


def test_pull_in_portuguese(run_amalia):
    result = run_amalia("pull", "hf:nobody/missing-GGUF:Q4_K_M", env={"LANG": "pt_PT.UTF-8"})
    assert "o repositório nobody/missing-GGUF não existe" in result.stderr


def test_store_is_a_model_store(store):
    assert isinstance(store, ModelStore)


def test_ctrl_c_keeps_the_partial_file_for_the_next_run(store, fake_hub, model_bytes, small_chunks):
    def interrupt(done: int, total: int | None) -> None:
        if done >= len(model_bytes) // 3:
            raise KeyboardInterrupt  # what Ctrl-C raises in the middle of the transfer

    with pytest.raises(KeyboardInterrupt):
        store.pull("amalia", progress=interrupt)
    kept = partial_path(store.hub, AMALIA_REPO, sha256(model_bytes)).stat().st_size
    # http_get counts a piece just before writing it: the interrupted piece is not kept
    assert len(model_bytes) // 3 - 64 * 1024 <= kept < len(model_bytes) // 2
    fake_hub.state.bytes_sent = 0
    result = store.pull("amalia")
    assert result.downloaded == len(model_bytes) - kept
    assert fake_hub.state.bytes_sent == len(model_bytes) - kept


def test_amalia_home_keeps_the_hub_cache_inside(hub_env, tmp_path):
    env = {k: v for k, v in hub_env.items() if k != "HF_HOME"}
    store = ModelStore.open(environ=env)
    assert store.hub.cache_dir == Path(env["AMALIA_HOME"]) / "cache" / "huggingface" / "hub"
    assert ModelStore.open(environ=hub_env).hub.cache_dir == Path(hub_env["HF_HOME"]) / "hub"


def test_server_ignoring_range_still_gives_a_verified_file(
    store, fake_hub, model_bytes, small_chunks
):
    fake_hub.state.cut_after = len(model_bytes) // 2
    fake_hub.state.fail_after_cut = True
    with pytest.raises(DownloadError):
        store.pull("amalia")
    fake_hub.state.fail_after_cut = False
    fake_hub.state.ignore_range = True  # the resume request gets the whole file again
    result = store.pull("amalia")
    assert result.model.sha256 == sha256(model_bytes)
    assert Path(result.model.path).read_bytes() == model_bytes


def test_ui_can_cancel_and_resume(store, fake_hub, model_bytes, small_chunks):
    from amalia_local.store import PullCancelled

    def cancel_at_half(done: int, total: int | None) -> None:
        if total and done >= total // 2:
            raise PullCancelled("amalia")

    with pytest.raises(PullCancelled):
        store.pull("amalia", progress=cancel_at_half)
    assert store.installed() == []
    result = store.pull("amalia")
    assert result.downloaded < len(model_bytes) // 2 + 64 * 1024
    assert result.model.sha256 == sha256(model_bytes)


def _mount_namespaces_work() -> bool:
    import shutil

    if shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _mount_namespaces_work(), reason="unshare -m is not permitted here")
def test_full_disk_is_refused_before_downloading(hub_env, fake_hub, tmp_path):
    """The Hub cache on a real 2 MB file system (tmpfs in a private mount namespace)."""
    small = tmp_path / "small"
    small.mkdir()
    script = 'mount -t tmpfs -o size=2m tmpfs "$1" && shift && exec "$@"'
    result = subprocess.run(
        ["unshare", "-m", "sh", "-c", script, "sh", str(small),
         sys.executable, "-m", "amalia_local", "pull", "amalia"],
        env={**hub_env, "HF_HOME": str(small)}, cwd=user_cwd(hub_env), capture_output=True,
        text=True,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith("amalia: not enough free disk space in ") and "MB needed" in line
    assert fake_hub.state.bytes_sent == 0
    assert index_models(hub_env) == []


def test_lfs_redirect_to_a_cdn_host(store, fake_hub, model_bytes, small_chunks):
    """As on the real Hub: /resolve/ answers 302 to another host carrying the metadata;
    bytes (and the resume Range) are fetched from the CDN."""
    fake_hub.state.cdn_host = "localhost"
    fake_hub.state.cut_after = len(model_bytes) // 2
    result = store.pull("amalia")
    assert result.model.sha256 == sha256(model_bytes)
    cdn_gets = [r for r in fake_hub.state.requests if r[0] == "GET" and r[1].startswith("/cdn/")]
    assert len(cdn_gets) == 2 and cdn_gets[1][2] is not None  # resumed on the CDN
    assert fake_hub.state.bytes_sent < len(model_bytes) + 64 * 1024


def test_pull_without_tag_means_the_default_quant(store, fake_hub, model_bytes):
    fake_hub.add(AMALIA_REPO, "AMALIA-9B-0626-DPO-Q8_0.gguf", model_bytes + b"\0" * 8)
    q8 = store.pull("amalia:q8_0").model
    assert store.find("amalia") == q8  # run: the one installed is good enough
    pulled = store.pull("amalia")
    assert not pulled.already_installed and pulled.model.name == "amalia:q4_k_m"
    assert store.find("amalia").name == "amalia:q4_k_m"  # now the default wins


def test_etag_that_is_not_a_digest_is_refused_before_download(store, fake_hub, model_bytes):
    fake_hub.add(
        "someone/tiny-GGUF", "tiny-Q4_K_M.gguf", model_bytes, published_sha256="../../evil"
    )
    with pytest.raises(ChecksumError) as refused:
        store.pull("hf:someone/tiny-GGUF")
    assert refused.value.key == "error.hub_no_checksum"
    assert fake_hub.state.bytes_sent == 0
    assert not any(p.name == "evil" for p in store.hub.cache_dir.parent.rglob("*"))


def test_catalogue_entry_without_file_name_is_matched_in_the_repo(store, fake_hub, model_bytes):
    """amalia-sft lists only quant tags: the file is found in the repo listing (-hf rules)."""
    repo = "layerx-labs/AMALIA-9B-0626-SFT-GGUF"
    fake_hub.add(repo, "AMALIA-9B-0626-SFT-Q4_K_M.gguf", model_bytes)
    fake_hub.add(repo, "AMALIA-9B-0626-SFT-Q4_K_M-imat.gguf", model_bytes + b"\0")
    result = store.pull("amalia-sft")
    assert result.model.name == "amalia-sft:q4_k_m"
    assert result.model.filename == "AMALIA-9B-0626-SFT-Q4_K_M.gguf"
    assert ("GET", f"/api/models/{repo}/revision/main", None) in fake_hub.state.requests
