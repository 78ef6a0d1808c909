"""The real thing: from the bundle alone, on a machine with no network.

``install.sh`` runs inside a new network namespace (``unshare -n``: no interface but a
downed loopback, so nothing can be reached), with a fresh HOME, no pip configuration,
and a ``sitecustomize`` that records — and refuses — every attempt to open a non-Unix
socket, in every Python process started (venv creation, pip, amalia). It makes a fresh
virtual environment, installs amalia-local from ``wheels/`` and imports the models;
then ``amalia run amalia`` answers with the bundled model, still in a namespace
without network. Where ``unshare`` is not permitted the same steps run without it, and
the socket guard alone proves that no connection was attempted.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from bundle_helpers import ANSWER, no_network
from user_process import user_env

GUARD = """
import os, socket

_log = os.environ["AMALIA_TEST_NET_LOG"]
_connect, _connect_ex = socket.socket.connect, socket.socket.connect_ex


def _refuse(sock, address):
    if sock.family != socket.AF_UNIX:
        with open(_log, "a", encoding="utf-8") as fh:
            fh.write(f"{os.getpid()} {sock.family!r} {address!r}\\n")
        raise OSError("amalia test: network connection attempted")


def connect(self, address):
    _refuse(self, address)
    return _connect(self, address)


def connect_ex(self, address):
    _refuse(self, address)
    return _connect_ex(self, address)


socket.socket.connect, socket.socket.connect_ex = connect, connect_ex
"""


def _offline_env(tmp_path: Path) -> dict[str, str]:
    guard = tmp_path / "guard"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text(GUARD, encoding="utf-8")
    return user_env(
        tmp_path / "home",
        PYTHONIOENCODING="utf-8",
        PYTHONPATH=str(guard),
        PIP_CONFIG_FILE=os.devnull,  # no find-links or index from this machine's pip.conf
        AMALIA_TEST_NET_LOG=str(tmp_path / "connections.log"),
        PYTHON=getattr(sys, "_base_executable", sys.executable),
    )


def test_install_sh_then_run_with_no_network(bundle_dir: Path, tmp_path: Path) -> None:
    prefix = list(no_network())
    isolated = bool(prefix)
    env = _offline_env(tmp_path)
    if isolated:
        probe = subprocess.run(
            [*prefix, env["PYTHON"], "-I", "-c",
             "import socket; socket.create_connection(('1.1.1.1', 443), timeout=3)"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert probe.returncode != 0 and "unreachable" in probe.stderr.lower()

    started = time.monotonic()
    install = subprocess.run(
        [*prefix, "sh", "install.sh"],  # from the bundle's folder, as its README says
        cwd=bundle_dir,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=600,
        check=False,
    )
    install_seconds = time.monotonic() - started
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
    assert "files of the bundle verified" in install.stdout  # the wheels, before pip
    assert "amalia:q4_k_m imported from the bundle" in install.stdout
    venv = Path(env["HOME"]) / ".amalia-venv"
    assert (venv / "bin" / "amalia").is_file()

    answer = subprocess.run(
        [*prefix, str(venv / "bin" / "amalia"), "run", "amalia", "Olá", "--temperature", "0",
         "--system", ""],
        env=env, cwd=env["HOME"], capture_output=True, text=True, encoding="utf-8", timeout=300,
        check=False,
    )  # fmt: skip
    assert answer.returncode == 0, answer.stderr
    assert answer.stdout == ANSWER + "\n"
    log = Path(env["AMALIA_TEST_NET_LOG"])
    assert not log.exists(), log.read_text(encoding="utf-8")
    print(f"\noffline install: {install_seconds:.1f} s (network namespace: {isolated})")


def test_the_socket_guard_would_see_a_connection(tmp_path: Path) -> None:
    """The guard is not vacuous: an attempt is refused and logged, in a namespace or not
    (without ``unshare`` the guard is the only protection, so it is tested there too;
    192.0.2.1 is a documentation address that nothing answers)."""
    env = _offline_env(tmp_path)
    code = "import socket\ntry:\n socket.create_connection(('192.0.2.1', 80), timeout=1)\n"
    code += "except OSError as e:\n print(e)"
    prefix = list(no_network())
    done = subprocess.run(
        [*prefix, env["PYTHON"], "-c", code],
        env=env, cwd=env["HOME"], capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert "network connection attempted" in done.stdout
    assert "192.0.2.1" in Path(env["AMALIA_TEST_NET_LOG"]).read_text(encoding="utf-8")


def test_install_sh_stops_before_pip_on_a_damaged_wheel(bundle_copy: Path, tmp_path: Path) -> None:
    wheel = sorted((bundle_copy / "wheels").glob("textual-*.whl"))[0]
    data = bytearray(wheel.read_bytes())
    data[len(data) // 2] ^= 0xFF
    wheel.write_bytes(bytes(data))
    env = {**_offline_env(tmp_path), "LANG": "pt_PT.UTF-8"}
    prefix = list(no_network())
    install = subprocess.run(
        [*prefix, "sh", "install.sh"],
        cwd=bundle_copy, env=env, capture_output=True, text=True, encoding="utf-8", timeout=300,
        check=False,
    )  # fmt: skip
    assert install.returncode == 1
    assert f"corrompido: wheels/{wheel.name}" in install.stdout
    assert install.stderr.strip().endswith(
        f"amalia: o pacote em {bundle_copy} está danificado: nada foi instalado; copie-o de novo"
    )
    assert not (Path(env["HOME"]) / ".amalia-venv").exists()
