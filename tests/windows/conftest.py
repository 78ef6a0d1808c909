"""Fixtures for the Windows tests; the helpers live in wine_helpers.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from user_process import run_as_user, user_env
from wine_helpers import (
    EMBED_PYTHON,
    NUMPY_FOR_WINE,
    Wine,
    build_windows_wheel,
    embeddable_python,
    require_tools,
    wheel_cache,
    windows_path,
)

from amalia_local.bundle import windows_build

CHECKOUT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def windows_wheel() -> Path:
    require_tools()
    return build_windows_wheel(wheel_cache(), windows_build.SMALL_VARIANTS)


@pytest.fixture(scope="session")
def win_python() -> Path:
    require_tools()
    return embeddable_python()


@pytest.fixture(scope="session")
def wine(tmp_path_factory: pytest.TempPathFactory, win_python: Path) -> Wine:
    """A wine prefix of the session's own, and a Windows user whose folder is
    ``...\\João Sá`` (a space and accents, as on many Portuguese PCs)."""
    root = tmp_path_factory.mktemp("wine")
    wine = Wine(root / "prefix", root / "João Sá")
    first = wine.run([str(win_python), "-c", "print('ok')"], timeout=300)
    assert first.stdout.strip() == "ok", first.stderr[-2000:]
    return wine


@pytest.fixture(scope="session")
def win_bundle(tmp_path_factory: pytest.TempPathFactory, windows_wheel: Path, smollm: Path) -> Path:
    """A Windows bundle made on this Linux machine: the cross-built wheel, every other
    dependency as a win_amd64 wheel for Python 3.12 (from the package index), SmolLM2."""
    root = tmp_path_factory.mktemp("win-maker")
    own = root / "own"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(own),
         str(CHECKOUT)],
        check=True,
    )  # fmt: skip
    pip = {k: v for k, v in os.environ.items() if k.startswith("PIP_")}
    pip.setdefault("PIP_CACHE_DIR", os.path.join(os.path.expanduser("~"), ".cache", "pip"))
    # this checkout's amalia-local, beside the index (an installed, non-editable
    # amalia-local asks pip for amalia-local==VERSION, which the index does not have)
    pip["PIP_FIND_LINKS"] = " ".join(filter(None, (pip.get("PIP_FIND_LINKS"), str(own))))
    constraints = root / "constraints.txt"
    constraints.write_text(NUMPY_FOR_WINE + "\n", encoding="utf-8")
    pip["PIP_CONSTRAINT"] = str(constraints)
    env = user_env(
        root / "user",
        **pip,
        AMALIA_HOME=str(root / "home"),
        HF_HOME=str(root / "hf"),
        AMALIA_WHEEL_CACHE=str(wheel_cache()),
    )
    amalia = [sys.executable, "-m", "amalia_local"]
    imported = run_as_user([*amalia, "import", str(smollm), "--name", "smollm"], env, timeout=300)
    assert imported.returncode == 0, imported.stderr
    out = root / "bundle"
    made = run_as_user(
        [*amalia, "bundle", "create", str(out), "--model", "smollm", "--platform", "win_amd64",
         "--python", EMBED_PYTHON, "--cpu-variants", ",".join(windows_build.SMALL_VARIANTS)],
        env,
        timeout=1800,
    )  # fmt: skip
    assert made.returncode == 0, made.stdout[-3000:] + made.stderr[-3000:]
    return out


@pytest.fixture(scope="session")
def win_install(wine: Wine, win_python: Path, win_bundle: Path) -> tuple[Path, str]:
    """The bundle installed under wine as a user without PowerShell would: ``install.cmd``
    in cmd, which finds the Python (here named by PYTHON, as the notes say) and runs
    install.py, into ``João Sá\\amalia``. Returns the folder and the installer's output."""
    target = wine.home / "amalia"
    done = wine.run(
        ["cmd.exe", "/c", windows_path(win_bundle / "install.cmd"), "--into",
         windows_path(target)],
        cwd=win_bundle,
        timeout=1800,
        AMALIA_HOME=windows_path(wine.home / "amalia-home"),
        PYTHON=windows_path(win_python),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return target, done.stdout


@pytest.fixture(scope="session")
def win_amalia(wine: Wine, win_python: Path, win_install: tuple[Path, str]):
    """Runs the installed amalia under wine as amalia.cmd does (python -P amalia.py)."""
    target, _ = win_install

    def run(*args: str, timeout: float = 600, **extra: str) -> subprocess.CompletedProcess[str]:
        extra.setdefault("AMALIA_HOME", windows_path(wine.home / "amalia-home"))
        return wine.run(
            [str(win_python), "-P", windows_path(target / "amalia.py"), *args],
            timeout=timeout,
            **extra,
        )

    return run


@pytest.fixture(scope="session")
def linux_same_variants(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Python of a venv with the Linux portable llama-cpp-python holding only the variants
    the Windows wheel has: the same ggml code on both sides, so greedy tokens can be
    compared (this machine's native build takes other SIMD paths, whose rounding picks
    other tokens after a few)."""
    from amalia_local.bundle import llama_build, wheelhouse

    spec = llama_build.PortableSpec(
        wheel_cache(),
        wheelhouse.llama_version(),
        "none",
        wheelhouse.this_python(),
        wheelhouse.this_platforms()[0],
    )
    wheel = spec.ensure([], lambda step, steps: None, wheel_cache() / "portable-build.log")
    venv = tmp_path_factory.mktemp("linux-portable") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", str(wheel.path), str(CHECKOUT)],
        check=True,
    )
    (lib,) = venv.glob("lib/python*/site-packages/llama_cpp/lib")
    kept = 0
    for library in lib.glob("libggml-cpu-*.so"):
        if (
            library.name.removeprefix("libggml-cpu-").removesuffix(".so")
            in windows_build.SMALL_VARIANTS
        ):
            kept += 1
        else:
            library.unlink()
    assert kept == len(windows_build.SMALL_VARIANTS)
    return python
