"""ggml's CPU backend: the best variant for this CPU, loaded before the first model.

A portable llama.cpp (built with ``GGML_BACKEND_DL`` and ``GGML_CPU_ALL_VARIANTS``, as
``amalia bundle create`` builds it) carries one CPU backend per instruction-set level
(``libggml-cpu-sse42.so``, ``-haswell``, ``-skylakex``...) instead of one compiled for
the building machine. llama-cpp-python loads none of them, and llama.cpp then finds no
device at all. ggml knows how to score each variant against the running CPU and load
the best one (``ggml_backend_load_all_from_path``); we only tell it where to look, the
``lib`` folder of the llama_cpp package, where the bundle build installs them.

A native build (a plain ``pip install``) has its CPU backend linked in and registered
already: then nothing happens here.
"""

from __future__ import annotations

import ctypes
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from amalia_local.cpu_variants import variant_of
from amalia_local.engine.llama_private import library_dir

# The ggml library file names libllama can be linked against, most specific first.
_GGML_NAMES = {
    "linux": ("libggml.so.0", "libggml.so"),
    "darwin": ("libggml.0.dylib", "libggml.dylib", "libggml.so"),
    "win32": ("ggml.dll", "libggml.dll"),  # mingw builds (bundle/windows_build.py) add lib
}


@dataclass(frozen=True)
class CpuBackend:
    """How llama.cpp runs on this CPU: the variants shipped, and the one in use."""

    dynamic: bool  # variants shipped as separate libraries (a portable build)
    variants: tuple[str, ...]  # e.g. ("haswell", "sandybridge", "sse42", "x64")
    loaded: str | None  # the variant in use; "built-in" for a native build; None: unknown


def lib_dir() -> Path:
    """The folder with llama-cpp-python's shared libraries."""
    return library_dir()


def variants(folder: Path | None = None) -> tuple[str, ...]:
    """Names of the CPU variants found in ``folder`` (llama_cpp's lib folder)."""
    folder = folder or lib_dir()
    names = [variant_of(path.name) for path in (folder.iterdir() if folder.is_dir() else [])]
    return tuple(sorted(name for name in names if name))


def ggml_library() -> ctypes.CDLL:
    """The very ggml libllama is linked against, not another copy of it.

    Wheels cannot hold symlinks, so ``libggml.so``, ``libggml.so.0`` and
    ``libggml.so.0.x.y`` are three separate files; each copy has its own backend
    registry, and only the one libllama uses matters. On Linux the mapped file is read
    from ``/proc/self/maps``; elsewhere the name the loader already knows is opened,
    which returns the loaded library rather than a new one.
    """
    mapped = _mapped_ggml()
    if mapped is not None:
        return ctypes.CDLL(str(mapped))
    platform = "linux" if sys.platform.startswith("linux") else sys.platform
    folder = lib_dir()
    for name in _GGML_NAMES.get(platform, ()):
        if (folder / name).exists():
            return ctypes.CDLL(name if platform != "win32" else str(folder / name))
    raise OSError("ggml library not found beside llama_cpp")


def _maps() -> list[str]:
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as fh:
            return [line.rstrip("\n") for line in fh]
    except OSError:
        return []


def _mapped_ggml() -> Path | None:
    for line in _maps():
        path = line.split(maxsplit=5)[-1] if line.count(" ") >= 5 else ""
        name = Path(path).name
        if re.match(r"^libggml\.so(\.\d+)*$", name):
            return Path(path)
    return None


def _loaded_variant() -> str | None:
    if sys.platform == "win32":
        return _windows_loaded_variant()
    for line in _maps():
        variant = variant_of(Path(line.split(maxsplit=5)[-1]).name)
        if variant:
            return variant
    return None


def _windows_loaded_variant() -> str | None:
    """Windows has no /proc: ask the loader which variant's DLL is in the process.

    ggml loads each variant to score it and unloads all but the best, so at most one
    answers.
    """
    if sys.platform != "win32":  # tells mypy that ctypes.WinDLL exists
        return None
    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    kernel32.GetModuleHandleW.argtypes = [ctypes.c_wchar_p]
    kernel32.GetModuleHandleW.restype = ctypes.c_void_p
    for name in variants():
        if kernel32.GetModuleHandleW(f"ggml-cpu-{name}.dll"):
            return name
    return None


def _declare(ggml: ctypes.CDLL) -> None:
    ggml.ggml_backend_reg_by_name.argtypes = [ctypes.c_char_p]
    ggml.ggml_backend_reg_by_name.restype = ctypes.c_void_p
    ggml.ggml_backend_load_all_from_path.argtypes = [ctypes.c_char_p]
    ggml.ggml_backend_load_all_from_path.restype = None


def ensure_loaded() -> CpuBackend:
    """Load the best CPU variant once per process; cheap when it is already there.

    Idempotent by asking ggml itself (is a "CPU" backend registered?) rather than by a
    flag of ours: a native build answers yes from the start.
    """
    shipped = variants()
    try:
        ggml = ggml_library()
        _declare(ggml)
    except (OSError, AttributeError):
        # An unusual layout: leave it to llama.cpp, whose load error then says
        # "no backends are loaded" through the usual one-line message.
        return describe(shipped)
    if not ggml.ggml_backend_reg_by_name(b"CPU"):
        ggml.ggml_backend_load_all_from_path(str(lib_dir()).encode())
    return describe(shipped)


def describe(shipped: tuple[str, ...] | None = None) -> CpuBackend:
    """The CPU backend as it stands now (after :func:`ensure_loaded`, the one in use)."""
    shipped = variants() if shipped is None else shipped
    if not shipped:
        return CpuBackend(dynamic=False, variants=(), loaded="built-in")
    return CpuBackend(dynamic=True, variants=shipped, loaded=_loaded_variant())
