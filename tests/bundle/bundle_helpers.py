"""Fixtures for air-gapped bundles: one real bundle per session, made offline.

The bundle holds two models — the catalogue's ``amalia`` pulled from the fake Hub (the
store tests' stand-in on 127.0.0.1) and ``tiny`` imported by hand — and a wheelhouse
assembled by ``amalia bundle create --wheelhouse-from`` from a local folder of wheels,
so creating it needs no index. That folder is built once per session by ``pip wheel``
of this checkout (the package index or pip's cache; llama-cpp-python comes from pip's
wheel cache, where installing it here left it).

The bundle carries the portable llama-cpp-python, as every bundle does by default. It
is compiled (about 10 minutes, from PyPI's source) by the same code ``bundle create``
uses, into the user's real wheel cache, so that later test runs and real bundles on
this machine reuse it (:func:`llama_wheel_cache`).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "store"))
sys.path.insert(0, str(Path(__file__).parents[1]))

from fake_hub import FakeHub
from user_process import run_as_user, user_env

CHECKOUT = Path(__file__).parents[2]
AMALIA_REPO = "teex-pt/AMALIA-9B-0626-DPO-GGUF"
AMALIA_FILE = "AMALIA-9B-0626-DPO-Q4_K_M.gguf"
ANSWER = "Olá, aç€!"


@pytest.fixture(scope="session")
def wheel_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every wheel amalia-local needs on this machine, in one folder."""
    folder = tmp_path_factory.mktemp("wheel-source")
    env = {**_maker_base(folder / "user"), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    pip = [sys.executable, "-m", "pip"]
    subprocess.run(
        [*pip, "wheel", "--quiet", "--wheel-dir", str(folder), str(CHECKOUT)], check=True, env=env
    )
    # amalia-local's own build backend, for venvs whose setuptools is older than it needs
    # (a Python 3.11 venv starts with 65): create then builds it in isolation from here.
    subprocess.run(
        [*pip, "download", "--quiet", "--dest", str(folder), "setuptools>=68", "wheel", "pip"],
        check=True,
        env=env,
    )
    return folder


def _maker_base(home: Path) -> dict[str, str]:
    """The connected machine that makes bundles: a user's environment and its pip settings
    (this machine's package index), nothing else of the test run's."""
    pip = {k: v for k, v in os.environ.items() if k.startswith("PIP_")}
    # pip's wheel cache stays the machine's (llama-cpp-python compiled once), not the
    # empty one of the test's HOME
    pip.setdefault("PIP_CACHE_DIR", os.path.join(os.path.expanduser("~"), ".cache", "pip"))
    return user_env(home, **pip)


@functools.cache
def no_network() -> tuple[str, ...]:
    """The prefix that runs a command in a new network namespace (``unshare -n``: no
    interface but a downed loopback), or nothing where that is not permitted."""
    if shutil.which("unshare") is None:
        return ()
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True, check=False)
    return ("unshare", "-n") if probe.returncode == 0 else ()


def cli(env: dict[str, str], *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """The real CLI in a subprocess, as a user runs it, from the user's folder."""
    return run_as_user([sys.executable, "-m", "amalia_local", *args], env, timeout=timeout)


@pytest.fixture(scope="session")
def llama_wheel_cache() -> Path:
    """The portable llama-cpp-python wheel for this machine, in the real user cache."""
    # the user's own folders, not a test AMALIA_HOME; CI, whose HOME is new each run,
    # points AMALIA_WHEEL_CACHE at the machine's cache as it does pip's (PIP_CACHE_DIR)
    import os

    from amalia_local.bundle import llama_build, wheelhouse
    from amalia_local.locations import Locations

    given = os.environ.get("AMALIA_WHEEL_CACHE")
    locations = Locations.resolve({"AMALIA_WHEEL_CACHE": given} if given else {})
    cache = locations.llama_wheels

    def progress(step: int, steps: int) -> None:
        if step % 50 == 0:
            print(f"compiling the portable llama-cpp-python: {step}/{steps}", flush=True)

    llama_build.PortableSpec(
        cache,
        wheelhouse.llama_version(),
        "none",
        wheelhouse.this_python(),
        wheelhouse.this_platforms()[0],
    ).ensure(
        [],
        progress,
        locations.llama_build_log,
    )
    return cache


@pytest.fixture(scope="session")
def maker_env(tmp_path_factory: pytest.TempPathFactory, llama_wheel_cache: Path) -> dict[str, str]:
    """The connected machine: its own AMALIA_HOME and Hugging Face cache."""
    root = tmp_path_factory.mktemp("maker")
    return {
        **_maker_base(root / "user"),
        "AMALIA_HOME": str(root / "home"),
        "HF_HOME": str(root / "hf"),
        "AMALIA_WHEEL_CACHE": str(llama_wheel_cache),
    }


@pytest.fixture(scope="session")
def bundle_dir(
    tmp_path_factory: pytest.TempPathFactory,
    tiny_model: Path,
    wheel_source: Path,
    maker_env: dict[str, str],
) -> Path:
    """A bundle made once; tests that change it work on a copy (:func:`bundle_copy`)."""
    hub = FakeHub()
    hub.add(AMALIA_REPO, AMALIA_FILE, tiny_model.read_bytes())
    hub.start()
    try:
        env = {**maker_env, "HF_ENDPOINT": hub.endpoint}
        imported = cli(env, "import", str(tiny_model), "--name", "tiny")
        assert imported.returncode == 0, imported.stderr
        out = tmp_path_factory.mktemp("made") / "bundle"
        made = cli(
            env,
            "bundle",
            "create",
            str(out),
            "--model",
            "amalia",
            "--model",
            "tiny",
            "--wheelhouse-from",
            str(wheel_source),
        )
        assert made.returncode == 0, made.stdout + made.stderr
    finally:
        hub.stop()
    return out


@pytest.fixture
def bundle_copy(bundle_dir: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "stick" / "bundle"
    shutil.copytree(bundle_dir, copy, symlinks=True)
    return copy


@pytest.fixture
def fresh_env(tmp_path: Path) -> dict[str, str]:
    """An offline machine: empty store and Hub cache; the Hub endpoint is a closed port."""
    return user_env(
        tmp_path / "offline-user",
        AMALIA_HOME=str(tmp_path / "offline-home"),
        HF_HOME=str(tmp_path / "offline-hf"),
        HF_ENDPOINT="http://127.0.0.1:9",
    )


def read_manifest(root: Path) -> dict:
    return json.loads((root / "manifest.json").read_text(encoding="utf-8"))


def write_manifest(root: Path, data: dict) -> None:
    (root / "manifest.json").write_text(json.dumps(data, indent=2), encoding="utf-8")


@pytest.fixture
def run_cli() -> Iterator[Callable[..., subprocess.CompletedProcess[str]]]:
    yield cli
