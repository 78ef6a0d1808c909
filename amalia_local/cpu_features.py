"""Which instruction sets this CPU offers, asked of the CPU itself where we can.

llama.cpp's speed, and whether a given build runs at all, depend on a handful of
extensions (AVX2, AVX-512, ...). On x86-64 the answer comes from the ``cpuid`` and
``xgetbv`` instructions, run from a few bytes of machine code: that is what ggml itself
asks, it sees an emulated CPU (``qemu-x86_64 -cpu Haswell``) as it really is, where
``/proc/cpuinfo`` would describe the host, and it needs no llama.cpp, so it still works
when llama.cpp is the thing that crashes. ``xgetbv`` tells whether the operating system
saves the wide registers: a CPU with AVX-512 whose kernel does not enable it cannot use
it, and Linux hides those flags from ``/proc/cpuinfo`` for the same reason. Elsewhere:
``/proc/cpuinfo`` (ARM Linux), ``sysctl`` (macOS), ``IsProcessorFeaturePresent``
(Windows, which knows fewer of them).
"""

from __future__ import annotations

import ctypes
import mmap
import platform
import subprocess
import sys
from collections.abc import Callable

# The features that matter to llama.cpp, in the order people know them.
X86_FEATURES = ("SSE4.2", "AVX", "AVX2", "FMA", "F16C", "AVX-512", "AVX-VNNI", "AMX")
ARM_FEATURES = ("NEON", "DOTPROD", "SVE")

# Linux /proc/cpuinfo flag for each feature (the names the kernel uses).
LINUX_FLAGS = {
    "SSE4.2": "sse4_2",
    "AVX": "avx",
    "AVX2": "avx2",
    "FMA": "fma",
    "F16C": "f16c",
    "AVX-512": "avx512f",
    "AVX-VNNI": "avx_vnni",
    "AMX": "amx_tile",
    "NEON": "asimd",
    "DOTPROD": "asimddp",
    "SVE": "sve",
}

# x86-64 machine code. cpuid(leaf, subleaf, uint32 out[4]), System V and Windows ABIs:
# push rbx; mov eax, <leaf>; mov ecx, <subleaf>; cpuid; store eax ebx ecx edx; pop rbx; ret
_CPUID_SYSV = bytes.fromhex("53 4989d0 89f8 89f1 0fa2 418900 41895804 41894808 4189500c 5b c3")
_CPUID_WIN64 = bytes.fromhex("53 89c8 89d1 0fa2 418900 41895804 41894808 4189500c 5b c3")
# xgetbv(0) -> edx:eax as one 64-bit value: xor ecx, ecx; xgetbv; shl rdx, 32; or rax, rdx
_XGETBV = bytes.fromhex("31c9 0f01d0 48c1e220 4809d0 c3")


def is_x86() -> bool:
    return platform.machine().lower() in ("x86_64", "amd64", "x64")


def is_arm() -> bool:
    return platform.machine().lower() in ("arm64", "aarch64")


def features() -> dict[str, bool]:
    """Each feature that matters on this architecture, present or not.

    Empty when nothing could be read (an unusual architecture, or a platform that
    forbids executable memory and has no other source).
    """
    if is_x86():
        found = _x86_from_cpuid()
        if found is None:
            found = _from_linux_cpuinfo(X86_FEATURES) or _from_other_os(X86_FEATURES)
        return found or {}
    if is_arm():
        return _from_linux_cpuinfo(ARM_FEATURES) or _from_other_os(ARM_FEATURES) or {}
    return {}


def missing(required: list[str] | tuple[str, ...], present: dict[str, bool]) -> list[str]:
    """The ``required`` features this CPU lacks (unknown ones count as missing)."""
    return [name for name in required if not present.get(name, False)]


# --- x86-64: cpuid -----------------------------------------------------------------------
class _Code:
    """A few bytes of machine code in an executable page, callable through ctypes."""

    def __init__(self, code: bytes, prototype: type) -> None:
        self._page = mmap.mmap(
            -1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC
        )
        self._page.write(code)
        address = ctypes.addressof(ctypes.c_char.from_buffer(self._page))
        self.function: Callable[..., int] = prototype(address)

    def close(self) -> None:
        # Dropped with the page it points into: a call after close() must fail, not jump.
        self.function = None  # type: ignore[assignment]
        self._page.close()


def _x86_from_cpuid() -> dict[str, bool] | None:
    if not hasattr(mmap, "PROT_EXEC"):  # Windows: no executable mmap in the stdlib
        return None
    try:
        return _read_cpuid()
    except (OSError, ValueError, TypeError, BufferError):
        return None  # executable memory refused (hardened kernel): fall back


def _read_cpuid() -> dict[str, bool]:
    regs = (ctypes.c_uint32 * 4)()
    code = _CPUID_WIN64 if sys.platform == "win32" else _CPUID_SYSV
    prototype = ctypes.CFUNCTYPE(
        None, ctypes.c_uint32, ctypes.c_uint32, ctypes.POINTER(ctypes.c_uint32)
    )
    cpuid = _Code(code, prototype)
    try:

        def ask(leaf: int, subleaf: int = 0) -> tuple[int, int, int, int]:
            cpuid.function(leaf, subleaf, regs)
            return regs[0], regs[1], regs[2], regs[3]

        max_leaf = ask(0)[0]
        _, _, ecx1, _ = ask(1)
        ebx7 = edx7 = eax7_1 = 0
        if max_leaf >= 7:
            _, ebx7, _, edx7 = ask(7, 0)
            eax7_1 = ask(7, 1)[0]
    finally:
        cpuid.close()
    xcr0 = _xgetbv() if ecx1 & (1 << 27) else 0  # OSXSAVE: the OS manages the state
    ymm = xcr0 & 0b110 == 0b110  # SSE and AVX state saved
    zmm = ymm and xcr0 & 0b11100000 == 0b11100000  # opmask, upper ZMM, hi16 ZMM
    tiles = xcr0 & (0b11 << 17) == 0b11 << 17  # AMX tile config and data
    return {
        "SSE4.2": bool(ecx1 & (1 << 20)),
        "AVX": ymm and bool(ecx1 & (1 << 28)),
        "AVX2": ymm and bool(ebx7 & (1 << 5)),
        "FMA": ymm and bool(ecx1 & (1 << 12)),
        "F16C": ymm and bool(ecx1 & (1 << 29)),
        "AVX-512": zmm and bool(ebx7 & (1 << 16)),
        "AVX-VNNI": ymm and bool(eax7_1 & (1 << 4)),
        "AMX": tiles and bool(edx7 & (1 << 24)),
    }


def _xgetbv() -> int:
    xgetbv = _Code(_XGETBV, ctypes.CFUNCTYPE(ctypes.c_uint64))
    try:
        return int(xgetbv.function())
    finally:
        xgetbv.close()


# --- other sources --------------------------------------------------------------------------
def linux_flags() -> set[str]:
    """The flags (x86) or features (ARM) line of ``/proc/cpuinfo``, as a set."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                if key.strip().lower() in ("flags", "features"):
                    return set(value.split())
    except OSError:
        pass
    return set()


def _from_linux_cpuinfo(names: tuple[str, ...]) -> dict[str, bool] | None:
    if not sys.platform.startswith("linux"):
        return None
    flags = linux_flags()
    return {name: LINUX_FLAGS[name] in flags for name in names} if flags else None


_SYSCTL = {
    "SSE4.2": "hw.optional.sse4_2",
    "AVX": "hw.optional.avx1_0",
    "AVX2": "hw.optional.avx2_0",
    "FMA": "hw.optional.fma",
    "F16C": "hw.optional.f16c",
    "AVX-512": "hw.optional.avx512f",
    "NEON": "hw.optional.neon",
    "DOTPROD": "hw.optional.arm.FEAT_DotProd",
}
# winnt.h PF_* numbers; Windows has none for F16C, AVX-VNNI, AMX or FMA.
_WINDOWS = {"SSE4.2": 38, "AVX": 39, "AVX2": 40, "AVX-512": 41, "NEON": 19, "DOTPROD": 43}


def _from_other_os(names: tuple[str, ...]) -> dict[str, bool] | None:
    if sys.platform == "darwin":
        return {name: _sysctl(_SYSCTL[name]) for name in names if name in _SYSCTL}
    if sys.platform == "win32":
        present = ctypes.windll.kernel32.IsProcessorFeaturePresent
        return {name: bool(present(_WINDOWS[name])) for name in names if name in _WINDOWS}
    return None


def _sysctl(name: str) -> bool:
    try:
        out = subprocess.run(
            ["sysctl", "-n", name], capture_output=True, text=True, timeout=2, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return out.stdout.strip() == "1"
