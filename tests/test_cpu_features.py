"""What the processor offers: cpuid against the kernel's view, and under an emulated CPU.

``cpu_features`` asks the CPU itself (cpuid, xgetbv). On this machine its answer must
equal ``/proc/cpuinfo``, which the kernel derives the same way; under
``qemu-x86_64 -cpu Haswell`` or ``Nehalem`` it must describe the emulated processor,
which ``/proc/cpuinfo`` (the host's) cannot.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from amalia_local import cpu_features
from amalia_local.bundle.smoke import crash_signal

LINUX_X86 = sys.platform.startswith("linux") and cpu_features.is_x86()
needs_linux_x86 = pytest.mark.skipif(not LINUX_X86, reason="cpuid vs /proc/cpuinfo: Linux x86-64")
QEMU = shutil.which("qemu-x86_64")


def kernel_view() -> dict[str, bool]:
    flags = cpu_features.linux_flags()
    return {name: cpu_features.LINUX_FLAGS[name] in flags for name in cpu_features.X86_FEATURES}


@needs_linux_x86
def test_cpuid_agrees_with_proc_cpuinfo() -> None:
    assert cpu_features.features() == kernel_view()


@needs_linux_x86
def test_doctor_cpu_section_matches_proc_cpuinfo(amalia) -> None:
    result = amalia("doctor", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["cpu"]["features"] == kernel_view()
    # the test venv has pip's own (native) build: the CPU backend is linked in
    backend = data["llama_cpp"]["cpu_backend"]
    assert backend == {"dynamic": False, "variants": [], "loaded": "built-in"}


@needs_linux_x86
def test_doctor_text_names_present_and_absent_features(amalia) -> None:
    result = amalia("--lang", "pt", "doctor")
    assert result.returncode == 0, result.stderr
    line = next(x for x in result.stdout.splitlines() if x.startswith("Conjuntos de instruções"))
    for name, present in kernel_view().items():
        assert f"{name} {'sim' if present else 'não'}" in line
    assert "Backend de CPU do llama.cpp" in result.stdout


@pytest.mark.skipif(not (LINUX_X86 and QEMU), reason="needs qemu-x86_64 (Debian's qemu-user)")
@pytest.mark.parametrize(
    ("cpu", "expected"),
    [
        ("Haswell", {"SSE4.2": True, "AVX": True, "AVX2": True, "FMA": True, "AVX-512": False}),
        ("Nehalem", {"SSE4.2": True, "AVX": False, "AVX2": False, "FMA": False, "F16C": False}),
    ],
)
def test_an_emulated_cpu_is_seen_as_it_is(cpu: str, expected: dict[str, bool]) -> None:
    code = "import json; from amalia_local.cpu_features import features as f; "
    code += "print(json.dumps(f()))"
    python = getattr(sys, "_base_executable", sys.executable)
    done = subprocess.run(
        [QEMU, "-cpu", cpu, python, "-c", code],
        capture_output=True, text=True, timeout=300, check=False,
        env={"PYTHONPATH": ":".join(p for p in sys.path if p)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert {name: seen[name] for name in expected} == expected


def test_exit_statuses_name_their_signal() -> None:
    assert crash_signal(132) == "SIGILL"  # 128 + 4, as sh reports it
    assert crash_signal(139) == "SIGSEGV"
    assert crash_signal(0xC000001D) == "SIGILL"  # Windows STATUS_ILLEGAL_INSTRUCTION
    assert crash_signal(-1073741795) == "SIGILL"  # the same, as a signed 32-bit code
    assert crash_signal(1) is None and crash_signal(2) is None
