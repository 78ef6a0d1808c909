"""The llama-cpp-python wheel a bundle carries: built to run on any CPU, and cached.

A plain ``pip install`` compiles llama.cpp with ``-march=native``: right for the machine
it runs on, fatal (SIGILL) on an older one. A bundle goes to machines nobody here has
seen, so its wheel is built with ggml's CPU backends as separate libraries, one per
instruction-set level, of which the engine loads the best at start-up
(:mod:`amalia_local.engine.backends`). ``CMAKE_INSTALL_BINDIR`` puts those libraries in
``llama_cpp/lib`` beside libllama, instead of a top-level ``bin/`` folder of
site-packages shared with every other package.

The build takes minutes, so the wheel is kept in the user cache under a key made of
the llama-cpp-python version, the CMake flags and the Python/platform, and reused by
the next bundle. pip's own wheel cache is bypassed on purpose: it is keyed by the source
alone and would hand back the native wheel built at install time.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from amalia_local.bundle.errors import WheelhouseError
from amalia_local.bundle.gpu import GPU_FLAGS
from amalia_local.cpu_variants import variant_of

PROJECT = "llama-cpp-python"
# Every CPU variant as its own library; nothing tuned to the building machine.
PORTABLE_FLAGS = (
    "-DGGML_NATIVE=OFF",
    "-DGGML_BACKEND_DL=ON",
    "-DGGML_CPU_ALL_VARIANTS=ON",
    "-DCMAKE_INSTALL_BINDIR=llama_cpp/lib",
)
_NINJA_STEP = re.compile(r"^\s*\[\s*(\d+)\s*/\s*(\d+)\s*\]")


@dataclass(frozen=True)
class LlamaWheel:
    """A llama-cpp-python wheel for a bundle, and how its llama.cpp was compiled."""

    path: Path
    version: str
    cmake_args: str
    gpu: str
    cpu_variants: tuple[str, ...]


def cmake_args(gpu: str) -> str:
    return " ".join((*PORTABLE_FLAGS, *GPU_FLAGS[gpu]))


def wheel_variants(wheel: Path) -> tuple[str, ...]:
    """The CPU variant libraries inside a wheel (none for a native build)."""
    with zipfile.ZipFile(wheel) as archive:
        found = {variant_of(name) for name in archive.namelist()}
    return tuple(sorted(v for v in found if v))


def cached_wheel(folder: Path, describe: Callable[[Path], LlamaWheel]) -> LlamaWheel | None:
    """The wheel a finished build left in its cache folder (the cache holds whole builds
    only), described by its spec; None before the first build."""
    wheels = sorted(folder.glob("llama_cpp_python-*.whl")) if folder.is_dir() else []
    return describe(wheels[0]) if wheels else None


@dataclass(frozen=True)
class PortableSpec:
    """Which portable wheel: one per llama-cpp-python version, flags, Python and platform."""

    cache_root: Path
    version: str
    gpu: str
    python: str
    platform: str

    @property
    def cmake_args(self) -> str:
        return cmake_args(self.gpu)

    @property
    def folder(self) -> Path:
        text = f"{self.version}\n{self.cmake_args}\n{self.python}\n{self.platform}"
        return self.cache_root / f"{self.version}-{hashlib.sha256(text.encode()).hexdigest()[:16]}"

    def cached(self) -> LlamaWheel | None:
        return cached_wheel(self.folder, self._wheel)

    def _wheel(self, path: Path) -> LlamaWheel:
        return LlamaWheel(path, self.version, self.cmake_args, self.gpu, wheel_variants(path))

    def ensure(
        self, pip_sources: list[str], progress: Callable[[int, int], None], log_path: Path
    ) -> LlamaWheel:
        """The cached wheel, or a new build (``progress(step, steps)``: compiler steps).

        The whole pip output goes to ``log_path``; a failed build names it in its error.
        """
        return self.cached() or self._wheel(_build(self, pip_sources, progress, log_path))


def _build(
    spec: PortableSpec,
    pip_sources: list[str],
    progress: Callable[[int, int], None],
    log_path: Path,
) -> Path:
    spec.cache_root.mkdir(parents=True, exist_ok=True)
    final = spec.folder
    work = Path(tempfile.mkdtemp(prefix=f".{final.name}.partial-", dir=spec.cache_root))
    try:
        command = [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--verbose",
            "--no-deps",
            "--no-cache-dir",  # never the native wheel pip cached when installing here
            "--no-binary",
            PROJECT,
            "--wheel-dir",
            str(work),
            *pip_sources,
            f"{PROJECT}=={spec.version}",
        ]
        env = {
            **os.environ,
            "CMAKE_ARGS": spec.cmake_args,  # replaces, never extends, the user's shell's
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "PIP_NO_INPUT": "1",
        }
        env.pop("FORCE_CMAKE", None)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "w", encoding="utf-8", errors="replace") as log:
            log.write(f"CMAKE_ARGS={spec.cmake_args}\n{' '.join(command)}\n")
            code = run_logged(command, env, log, progress)
        wheels = sorted(work.glob("llama_cpp_python-*.whl"))
        if code != 0 or not wheels:
            raise WheelhouseError("bundle.llama_build_failed", version=spec.version, log=log_path)
        if not wheel_variants(wheels[0]):
            raise WheelhouseError("bundle.llama_not_portable", version=spec.version, log=log_path)
        if final.exists():
            shutil.rmtree(final)
        os.replace(work, final)  # the cache holds whole builds only
        return final / wheels[0].name
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run_logged(
    command: list[str],
    env: dict[str, str],
    log: TextIO,
    progress: Callable[[int, int], None],
) -> int:
    process = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        encoding="utf-8",
        errors="replace",
    )
    assert process.stdout is not None
    try:
        for line in process.stdout:
            log.write(line)
            step = _NINJA_STEP.match(line)
            if step:
                progress(int(step.group(1)), int(step.group(2)))
    except BaseException:
        process.kill()
        raise
    finally:
        process.stdout.close()
    return process.wait()
