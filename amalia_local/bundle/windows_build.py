"""A Windows llama-cpp-python wheel, cross-compiled here with mingw-w64: no compiler there.

PyPI has only llama-cpp-python's source, so a Windows PC would need Visual Studio Build
Tools and CMake to install it; municipal PCs have neither. This module takes the pinned
release's sdist, compiles its vendored llama.cpp with Debian's mingw-w64 (posix
threads) and packs the sdist's own Python package with the DLLs as a
``py3-none-win_amd64`` wheel:

* ggml's CPU backends are separate DLLs, one per x86-64 level (``GGML_BACKEND_DL``),
  as in the Linux portable build: every PC loads the best one it can run;
* libgcc, libstdc++ and winpthread are linked statically and OpenMP is off, so the DLLs
  import only Windows' own DLLs (checked before the wheel is kept: no "Visual C++
  redistributable" or "libstdc++-6.dll not found" on the PC);
* mtmd (images) is not built: amalia-local does not use it.

The wheel is cached under a key of the version, the variants, the compiler and this
recipe, and the build reports ninja's steps as progress.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.parser import Parser
from pathlib import Path
from typing import TextIO

from amalia_local.bundle.errors import WheelhouseError
from amalia_local.bundle.llama_build import LlamaWheel, cached_wheel, run_logged, wheel_variants

PLATFORM = "win_amd64"
TAG = f"py3-none-{PLATFORM}"
TRIPLET = "x86_64-w64-mingw32"
# ggml's x86 variants as ggml/src/CMakeLists.txt lists them for a non-MSVC compiler,
# oldest first, but for LEFT_OUT.
ALL_VARIANTS = (
    "x64",
    "sse42",
    "sandybridge",
    "ivybridge",
    "piledriver",
    "haswell",
    "skylakex",
    "cannonlake",
    "cascadelake",
    "icelake",
    "cooperlake",
    "zen4",
    "alderlake",
)
# Variants that do not build with Debian 12's mingw-w64 (GCC 12), and why. A Sapphire
# Rapids PC loads the best of the others (zen4 / cooperlake: AVX-512 with BF16).
LEFT_OUT = {
    # amx/mmq.cpp: GCC 12 emits AMX tile loads with a 32-bit index register, which the
    # assembler refuses ("(%rax,%edi,1) is not a valid base/index expression").
    "sapphirerapids": "GCC 12 (mingw-w64) emits invalid AMX tile loads",
}
# The fewest that still cover every x86-64 PC: the baseline, and AVX2 for most PCs
# since 2013. What CI builds; a bundle gets them all unless asked otherwise.
SMALL_VARIANTS = ("x64", "haswell")
# Bump when the flags or patches below change: the cache key includes it.
RECIPE = "1"
# What a DLL may import: Windows' own libraries (the C runtime included), nothing from
# the compiler. Lower-case names, as the PE import table's case varies.
SYSTEM_DLLS = frozenset(
    {
        "kernel32.dll",
        "advapi32.dll",
        "msvcrt.dll",
        "user32.dll",
        "shell32.dll",
        "ole32.dll",
        "ws2_32.dll",
        "bcrypt.dll",
        "ntdll.dll",
    }
)
_OWN_DLLS = frozenset(
    f"{prefix}{name}.dll" for name in ("llama", "ggml", "ggml-base") for prefix in ("", "lib")
)
_TOOLS = ("cmake", "ninja", f"{TRIPLET}-gcc-posix", f"{TRIPLET}-g++-posix", f"{TRIPLET}-objdump")
_VARIANT_CALL = re.compile(r"^(\s*)(ggml_add_cpu_backend_variant\((\w+)\b[^)]*\))", re.MULTILINE)

# mingw-w64 10 (Debian 12) declares SetThreadInformation and ThreadPowerThrottling but
# not the structure they take, so ggml-cpu.c does not compile (llama.cpp #14953). The
# missing declarations, as Windows' SDK documents them, go in just before their use.
_THROTTLING_ANCHOR = "static bool ggml_thread_apply_priority(int32_t prio) {"
_THROTTLING_DECLARATIONS = """\
#if defined(__MINGW32__) && !defined(THREAD_POWER_THROTTLING_CURRENT_VERSION)
/* amalia-local: missing from mingw-w64 10's headers (llama.cpp #14953) */
typedef struct { ULONG Version; ULONG ControlMask; ULONG StateMask; } THREAD_POWER_THROTTLING_STATE;
#define THREAD_POWER_THROTTLING_CURRENT_VERSION 1
#define THREAD_POWER_THROTTLING_EXECUTION_SPEED 0x1
#endif
"""

_TOOLCHAIN = f"""\
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR AMD64)
set(CMAKE_C_COMPILER {TRIPLET}-gcc-posix)
set(CMAKE_CXX_COMPILER {TRIPLET}-g++-posix)
set(CMAKE_RC_COMPILER {TRIPLET}-windres)
set(CMAKE_FIND_ROOT_PATH /usr/{TRIPLET})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
"""

_STATIC_RUNTIME = "-static -static-libgcc -static-libstdc++ -Wl,--exclude-libs,ALL"
CMAKE_FLAGS = (
    "-DCMAKE_BUILD_TYPE=Release",
    "-DGGML_NATIVE=OFF",
    "-DGGML_BACKEND_DL=ON",
    "-DGGML_CPU_ALL_VARIANTS=ON",
    "-DGGML_OPENMP=OFF",  # libgomp would be one more DLL to ship; ggml's threads suffice
    "-DLLAVA_BUILD=OFF",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_BUILD_TOOLS=OFF",
    "-DLLAMA_BUILD_SERVER=OFF",
    # -static: libgcc, libstdc++ and libwinpthread from their archives, not their DLLs;
    # for the libraries (llama, ggml) and for the CPU variants, which CMake links as
    # modules (loaded at run time) with flags of their own. --exclude-libs: a DLL must
    # not export what it took from those archives, or the next one linking against it
    # finds _Unwind_Resume twice ("multiple definition", ggml-base.dll and libgcc_eh).
    f"-DCMAKE_SHARED_LINKER_FLAGS={_STATIC_RUNTIME}",
    f"-DCMAKE_MODULE_LINKER_FLAGS={_STATIC_RUNTIME}",
)


@dataclass(frozen=True)
class WindowsSpec:
    """Which Windows wheel: one per llama-cpp-python version, variants and compiler."""

    cache_root: Path
    version: str
    variants: tuple[str, ...] = ALL_VARIANTS

    @property
    def cmake_args(self) -> str:
        return " ".join(CMAKE_FLAGS)

    @property
    def folder(self) -> Path:
        text = "\n".join((self.version, ",".join(self.variants), compiler_version(), RECIPE))
        digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        return self.cache_root / f"{self.version}-{PLATFORM}-{digest}"

    def cached(self) -> LlamaWheel | None:
        return cached_wheel(self.folder, self._wheel)

    def _wheel(self, path: Path) -> LlamaWheel:
        return LlamaWheel(path, self.version, self.cmake_args, "none", wheel_variants(path))

    def ensure(
        self,
        fetch_sdist: Callable[[Path], Path],
        progress: Callable[[int, int], None],
        log_path: Path,
    ) -> LlamaWheel:
        """The cached wheel, or a new build from the sdist ``fetch_sdist(folder)`` saves."""
        return self.cached() or self._wheel(_build(self, fetch_sdist, progress, log_path))


def check_variants(names: Sequence[str]) -> tuple[str, ...]:
    """The requested variants in ggml's order; unknown names raise, naming them."""
    unknown = [n for n in names if n not in ALL_VARIANTS]
    if unknown or not names:
        raise WheelhouseError("bundle.bad_cpu_variants", names=", ".join(unknown) or "-")
    return tuple(v for v in ALL_VARIANTS if v in names)


def missing_tools() -> list[str]:
    return [tool for tool in _TOOLS if shutil.which(tool) is None]


def compiler_version() -> str:
    try:
        done = subprocess.run(
            [f"{TRIPLET}-gcc-posix", "-dumpfullversion"],
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:
        return "none"
    return done.stdout.strip() or "none"


def dll_imports(dll: Path) -> list[str]:
    """The DLL names a Windows DLL imports, lower-case, as objdump reads its PE header."""
    done = subprocess.run(
        [f"{TRIPLET}-objdump", "-p", str(dll)], capture_output=True, text=True, check=True
    )
    return sorted({m.lower() for m in re.findall(r"DLL Name:\s*(\S+)", done.stdout)})


def own_dlls() -> frozenset[str]:
    return _OWN_DLLS


def foreign_imports(dll: Path) -> list[str]:
    """Imports that are neither Windows' own nor this wheel's DLLs (must be none)."""
    return [name for name in dll_imports(dll) if name not in SYSTEM_DLLS | _OWN_DLLS]


def _build(
    spec: WindowsSpec,
    fetch_sdist: Callable[[Path], Path],
    progress: Callable[[int, int], None],
    log_path: Path,
) -> Path:
    missing = missing_tools()
    if missing:
        raise WheelhouseError("bundle.cross_tools_missing", tools=", ".join(missing))
    spec.cache_root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{spec.folder.name}.partial-", dir=spec.cache_root))
    started = time.monotonic()
    try:
        source = _unpack(fetch_sdist(work / "sdist"), work / "src")
        _patch(source, spec.variants)
        toolchain = work / "mingw-w64.cmake"
        toolchain.write_text(_TOOLCHAIN, encoding="utf-8")
        build = work / "build"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "w", encoding="utf-8", errors="replace") as log:
            configure = [
                "cmake",
                "-S",
                str(source),
                "-B",
                str(build),
                "-G",
                "Ninja",
                f"-DCMAKE_TOOLCHAIN_FILE={toolchain}",
                *CMAKE_FLAGS,
                *_launcher(),
            ]
            env = {**os.environ, "CCACHE_BASEDIR": str(work), "CCACHE_NOHASHDIR": "1"}
            if _step(configure, env, log, lambda s, n: None) != 0:
                raise WheelhouseError(
                    "bundle.llama_build_failed", version=spec.version, log=log_path
                )
            targets = ["llama", *(f"ggml-cpu-{v}" for v in spec.variants)]
            if _step(["ninja", "-C", str(build), *targets], env, log, progress) != 0:
                raise WheelhouseError(
                    "bundle.llama_build_failed", version=spec.version, log=log_path
                )
            dlls = _dlls(build, spec.variants)
            for dll in dlls:
                bad = foreign_imports(dll)
                if bad:
                    log.write(f"{dll.name} imports {', '.join(bad)}\n")
                    raise WheelhouseError(
                        "bundle.cross_foreign_dll", dll=dll.name, imports=", ".join(bad)
                    )
            log.write(f"built in {time.monotonic() - started:.0f} s\n")
        out = work / "wheel"
        wheel = pack_wheel(source, dlls, spec.version, out)
        final = spec.folder
        if final.exists():
            shutil.rmtree(final)
        final.mkdir()
        os.replace(wheel, final / wheel.name)  # the cache holds whole wheels only
        return final / wheel.name
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _launcher() -> list[str]:
    """ccache in front of the compilers when the machine has it: rebuilds take seconds."""
    if shutil.which("ccache") is None:
        return []
    return ["-DCMAKE_C_COMPILER_LAUNCHER=ccache", "-DCMAKE_CXX_COMPILER_LAUNCHER=ccache"]


def _step(
    command: list[str],
    env: dict[str, str],
    log: TextIO,
    progress: Callable[[int, int], None],
) -> int:
    log.write(" ".join(command) + "\n")
    log.flush()
    return run_logged(command, env, log, progress)


def _unpack(sdist: Path, dest: Path) -> Path:
    with tarfile.open(sdist) as tar:
        tar.extractall(dest, filter="data")
    roots = [p for p in dest.iterdir() if p.is_dir()]
    if len(roots) != 1 or not (roots[0] / "CMakeLists.txt").is_file():
        raise WheelhouseError("bundle.pip_failed", command=f"download {sdist.name}")
    return roots[0]


def _patch(source: Path, variants: tuple[str, ...]) -> None:
    """The mingw fix, and only the wanted CPU variants left in ggml's list.

    Both edits find their anchor or stop the build: a llama.cpp update that moves them
    is noticed here, not as a wheel that crashes on a PC.
    """
    ggml = source / "vendor" / "llama.cpp" / "ggml" / "src"
    cpu_c = ggml / "ggml-cpu" / "ggml-cpu.c"
    text = cpu_c.read_text(encoding="utf-8")
    if _THROTTLING_ANCHOR not in text:
        raise WheelhouseError("bundle.cross_patch_failed", file="ggml-cpu.c")
    cpu_c.write_text(
        text.replace(_THROTTLING_ANCHOR, _THROTTLING_DECLARATIONS + _THROTTLING_ANCHOR, 1),
        encoding="utf-8",
    )
    lists = ggml / "CMakeLists.txt"
    text = lists.read_text(encoding="utf-8")
    found = {m.group(3) for m in _VARIANT_CALL.finditer(text)}
    if not {*ALL_VARIANTS, *LEFT_OUT} <= found:
        raise WheelhouseError("bundle.cross_patch_failed", file="ggml/src/CMakeLists.txt")

    def keep_or_drop(match: re.Match[str]) -> str:
        name = match.group(3)
        if name in variants or name not in (*ALL_VARIANTS, *LEFT_OUT):
            return match.group(0)
        return f"{match.group(1)}# amalia-local: not built: {match.group(2)}"

    lists.write_text(_VARIANT_CALL.sub(keep_or_drop, text), encoding="utf-8")


def _dlls(build: Path, variants: tuple[str, ...]) -> list[Path]:
    """The DLLs under the names they were linked with (mingw names some ``libllama.dll``;
    the import tables use those names, and llama-cpp-python's loader tries both)."""
    found = {p.name: p for p in build.rglob("*.dll")}
    wanted = [("llama", "libllama"), ("ggml", "libggml"), ("ggml-base", "libggml-base")]
    wanted += [(f"ggml-cpu-{v}", f"libggml-cpu-{v}") for v in variants]
    picked, absent = [], []
    for names in wanted:
        path = next((found[f"{n}.dll"] for n in names if f"{n}.dll" in found), None)
        if path is None:
            absent.append(f"{names[0]}.dll")
        else:
            picked.append(path)
    if absent:
        raise WheelhouseError("bundle.cross_missing_dll", names=", ".join(absent))
    return picked


def pack_wheel(source: Path, dlls: Sequence[Path], version: str, out: Path) -> Path:
    """``llama_cpp/`` from the sdist plus the DLLs in ``llama_cpp/lib``, as a wheel.

    Entries are written in a fixed order with a fixed time, so the same build gives the
    same bytes (and the same SHA-256 in every bundle's manifest).
    """
    out.mkdir(parents=True, exist_ok=True)
    dist = f"llama_cpp_python-{version}"
    info = f"{dist}.dist-info"
    files: list[tuple[str, bytes]] = []
    package = source / "llama_cpp"
    for path in sorted(package.rglob("*")):
        rel = path.relative_to(source).as_posix()
        if path.is_file() and "/lib/" not in f"/{rel}" and "__pycache__" not in rel:
            files.append((rel, path.read_bytes()))
    files += [(f"llama_cpp/lib/{dll.name}", dll.read_bytes()) for dll in dlls]
    metadata = (source / "PKG-INFO").read_text(encoding="utf-8")
    if Parser().parsestr(metadata).get("Version") != version:
        raise WheelhouseError("bundle.pip_failed", command=f"download llama-cpp-python=={version}")
    files.append((f"{info}/METADATA", metadata.encode("utf-8")))
    wheel_text = (
        f"Wheel-Version: 1.0\nGenerator: amalia-local\nRoot-Is-Purelib: false\nTag: {TAG}\n"
    )
    files.append((f"{info}/WHEEL", wheel_text.encode()))
    licence = source / "LICENSE.md"
    if licence.is_file():
        files.append((f"{info}/licenses/LICENSE.md", licence.read_bytes()))
    record = [f"{name},sha256={_digest(data)},{len(data)}" for name, data in files]
    record.append(f"{info}/RECORD,,")
    files.append((f"{info}/RECORD", ("\n".join(record) + "\n").encode()))
    path = out / f"{dist}-{TAG}.whl"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files:
            entry = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            entry.external_attr = 0o644 << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, data)
    return path


def _digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
