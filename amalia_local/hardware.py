"""What this machine offers: physical cores and memory, without extra dependencies.

llama.cpp runs fastest with one thread per physical core (hyper-threads share the
same vector units), and the context we can afford depends on RAM actually free.
"""

from __future__ import annotations

import ctypes
import os
import platform
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Memory:
    total_bytes: int
    available_bytes: int


def usable_cpus() -> int:
    """Logical CPUs this process may run on (respects affinity and container limits)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def physical_cores() -> int:
    """Physical cores usable by this process; falls back to logical CPUs when unknown."""
    system = platform.system()
    cores: int | None = None
    if system == "Linux":
        cores = _linux_physical_cores()
    elif system == "Darwin":
        cores = _sysctl_int("hw.physicalcpu")
    return max(1, min(cores or usable_cpus(), usable_cpus()))


def _linux_physical_cores() -> int | None:
    allowed = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    cores: set[tuple[str, str]] = set()
    for cpu_dir in Path("/sys/devices/system/cpu").glob("cpu[0-9]*"):
        index = int(cpu_dir.name[3:])
        if allowed is not None and index not in allowed:
            continue
        topo = cpu_dir / "topology"
        try:
            package = (topo / "physical_package_id").read_text().strip()
            core = (topo / "core_id").read_text().strip()
        except OSError:
            return None
        cores.add((package, core))
    return len(cores) or None


def _sysctl_int(name: str) -> int | None:
    try:
        out = subprocess.run(
            ["sysctl", "-n", name], capture_output=True, text=True, timeout=2, check=True
        )
        return int(out.stdout.strip())
    except (OSError, ValueError, subprocess.SubprocessError):
        return None


def memory() -> Memory:
    """Total and available RAM in bytes (available = what can be used without swapping)."""
    system = platform.system()
    if system == "Linux":
        info = _linux_meminfo()
        if info:
            total = info.get("MemTotal", 0)
            available = info.get("MemAvailable", info.get("MemFree", 0))
            return Memory(total, available)
    elif system == "Darwin":
        total = _sysctl_int("hw.memsize") or 0
        # macOS reclaims inactive pages freely; count free + inactive as available.
        page = _sysctl_int("hw.pagesize") or 4096
        free = (_sysctl_int("vm.page_free_count") or 0) * page
        inactive = (_sysctl_int("vm.page_inactive_count") or 0) * page
        return Memory(total, min(total, free + inactive) or total // 2)
    elif system == "Windows":
        return _windows_memory()
    pages = os.sysconf("SC_PHYS_PAGES") if hasattr(os, "sysconf") else 0
    size = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 0
    return Memory(pages * size, pages * size // 2)


def _linux_meminfo() -> dict[str, int]:
    values: dict[str, int] = {}
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                name, _, rest = line.partition(":")
                parts = rest.split()
                if parts and parts[0].isdigit():
                    values[name] = int(parts[0]) * (1024 if parts[1:] == ["kB"] else 1)
    except OSError:
        return {}
    return values


def _windows_memory() -> Memory:
    class MemoryStatusEx(ctypes.Structure):
        _fields_ = [
            ("dwLength", ctypes.c_ulong),
            ("dwMemoryLoad", ctypes.c_ulong),
            ("ullTotalPhys", ctypes.c_ulonglong),
            ("ullAvailPhys", ctypes.c_ulonglong),
            ("ullTotalPageFile", ctypes.c_ulonglong),
            ("ullAvailPageFile", ctypes.c_ulonglong),
            ("ullTotalVirtual", ctypes.c_ulonglong),
            ("ullAvailVirtual", ctypes.c_ulonglong),
            ("ullAvailExtendedVirtual", ctypes.c_ulonglong),
        ]

    status = MemoryStatusEx()
    status.dwLength = ctypes.sizeof(MemoryStatusEx)
    if sys.platform == "win32":  # always, when called; tells mypy that ctypes.windll exists
        ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(status))
    return Memory(int(status.ullTotalPhys), int(status.ullAvailPhys))
