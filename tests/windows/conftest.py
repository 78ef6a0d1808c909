"""Fixtures for the Windows tests; the helpers live in wine_helpers.py."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from wine_helpers import (
    EMBED_PYTHON,
    NUMPY_FOR_WINE,
    Wine,
    build_windows_wheel,
    embeddable_python,
    make_win_bundle,
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
    """The bundle the wine tests install: for the embeddable Python, numpy 1.26."""
    return make_win_bundle(
        tmp_path_factory.mktemp("win-maker"), smollm, EMBED_PYTHON, NUMPY_FOR_WINE
    )


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
