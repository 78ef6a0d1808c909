"""A bundle on the PCs municipalities have: older processors, emulated with qemu.

The portable bundle is installed offline (``unshare -n`` where permitted) into a fresh
venv; its smoke test, and then ``amalia run`` and ``amalia doctor``, run under
``qemu-x86_64 -cpu Haswell`` (AVX2, no AVX-512) and ``-cpu Nehalem`` (SSE4.2, no AVX),
where ggml must pick the haswell and sse42 CPU variants. A bundle with this machine's
native build (``--llama native``) must instead fail its install on the emulated Haswell
with one line naming the missing instructions, as it would on a real old PC.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from bundle_helpers import ANSWER, cli, no_network
from user_process import user_env

from amalia_local import cpu_features

QEMU = shutil.which("qemu-x86_64")
pytestmark = pytest.mark.skipif(
    not (QEMU and sys.platform.startswith("linux") and platform.machine() == "x86_64"),
    reason="needs qemu-x86_64 (Debian's qemu-user) on x86-64 Linux",
)


def _machine_env(home: Path, cpu: str | None) -> dict[str, str]:
    env = user_env(
        home,
        PIP_CONFIG_FILE=os.devnull,
        PYTHON=getattr(sys, "_base_executable", sys.executable),
    )
    if cpu is not None:
        env["AMALIA_RUN_PREFIX"] = f"{QEMU} -cpu {cpu}"
    return env


FEATURES = (
    "import json; from amalia_local.cpu_features import features as f; print(json.dumps(f()))"
)
DECOY = 'raise SystemExit("a folder\'s amalia_local was imported instead of the installed one")\n'


def _install(bundle: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``install.sh`` started from a folder that holds its own ``amalia_local`` (a source
    checkout, say), as a user may: the install must use the bundle's, never that one."""
    folder = Path(env["HOME"]) / "src"
    (folder / "amalia_local").mkdir(parents=True, exist_ok=True)
    (folder / "amalia_local" / "__init__.py").write_text(DECOY, encoding="utf-8")
    return subprocess.run(
        [*no_network(), "sh", str(bundle / "install.sh")],
        cwd=folder, env=env, capture_output=True, text=True, encoding="utf-8", timeout=1200,
        check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def old_pc(bundle_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The portable bundle installed on a Haswell: the smoke test ran emulated."""
    env = _machine_env(tmp_path_factory.mktemp("haswell") / "home", "Haswell")
    done = _install(bundle_dir, env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "5/5" in done.stdout and "pronto / done" in done.stdout
    return env


def _emulated(env: dict[str, str], cpu: str, *args: str) -> subprocess.CompletedProcess[str]:
    python = Path(env["HOME"]) / ".amalia-venv" / "bin" / "python"
    return subprocess.run(
        [*no_network(), QEMU, "-cpu", cpu, str(python), "-m", "amalia_local", *args],
        env=env, cwd=env["HOME"], capture_output=True, text=True, encoding="utf-8", timeout=900,
        check=False,
    )  # fmt: skip


@pytest.mark.parametrize(("cpu", "variant"), [("Haswell", "haswell"), ("Nehalem", "sse42")])
def test_the_bundle_answers_on_an_older_cpu(old_pc: dict[str, str], cpu: str, variant: str) -> None:
    answer = _emulated(old_pc, cpu, "run", "amalia", "Olá", "--temperature", "0", "--system", "")
    assert answer.returncode == 0, answer.stderr[-2000:]
    assert answer.stdout == ANSWER + "\n"
    doctor = _emulated(old_pc, cpu, "doctor", "--json")
    assert doctor.returncode == 0, doctor.stderr[-2000:]
    backend = json.loads(doctor.stdout)["llama_cpp"]["cpu_backend"]
    assert backend["dynamic"] and backend["loaded"] == variant


def test_on_this_machine_a_newer_variant_is_picked(old_pc: dict[str, str]) -> None:
    """Not emulated, the same install uses what this processor has beyond AVX."""
    python = Path(old_pc["HOME"]) / ".amalia-venv" / "bin" / "python"
    doctor = subprocess.run(
        [str(python), "-m", "amalia_local", "doctor", "--json"],
        env=old_pc, cwd=old_pc["HOME"], capture_output=True, text=True, timeout=300,
        check=False,
    )  # fmt: skip
    assert doctor.returncode == 0, doctor.stderr[-2000:]
    assert doctor.stderr == "", "llama.cpp's log (load_backend: ...) goes to the log file"
    loaded = json.loads(doctor.stdout)["llama_cpp"]["cpu_backend"]["loaded"]
    if not cpu_features.features().get("AVX2"):
        pytest.skip("this machine has no AVX2")
    assert loaded not in (None, "x64", "sse42", "sandybridge")


@pytest.fixture(scope="module")
def native_bundle(
    tmp_path_factory: pytest.TempPathFactory,
    maker_env: dict[str, str],
    wheel_source: Path,
    bundle_dir: Path,
) -> Path:
    """A bundle with this machine's own llama.cpp (compiled with -march=native).

    ``bundle_dir`` made first: it imported ``tiny`` into the maker's store.
    """
    out = tmp_path_factory.mktemp("native") / "bundle"
    made = cli(
        maker_env, "bundle", "create", str(out), "--model", "tiny", "--llama", "native",
        "--wheelhouse-from", str(wheel_source),
    )  # fmt: skip
    assert made.returncode == 0, made.stdout + made.stderr
    return out


def test_a_native_only_bundle_fails_its_install_clearly(
    native_bundle: Path, tmp_path: Path
) -> None:
    """On the oldest PC we emulate (Nehalem: no AVX) whatever this machine is, so the
    test runs wherever CI does; a Haswell shows it too where the build has AVX-512."""
    build = json.loads((native_bundle / "manifest.json").read_text())["llama_build"]
    assert build["kind"] == "native"
    cpu = "Haswell" if "AVX-512" in build["built_on"] else "Nehalem"
    seen = subprocess.run(
        [QEMU, "-cpu", cpu, getattr(sys, "_base_executable", sys.executable), "-P", "-c",
         FEATURES],
        env={"PYTHONPATH": str(Path(cpu_features.__file__).parents[1])}, cwd=tmp_path,
        capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    lacking = cpu_features.missing(tuple(build["built_on"]), json.loads(seen.stdout))
    assert lacking, f"a {cpu} has everything {build['built_on']} names"
    env = _machine_env(tmp_path / "home", cpu)
    done = _install(native_bundle, env)
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("amalia: este processador não tem " + ", ".join(lacking)), last
    assert f"/ this processor lacks {', '.join(lacking)}, which this bundle's llama.cpp" in last
    assert "(SIGILL)" in last
    assert "pronto / done" not in done.stdout
