"""``amalia serve`` started as a user starts it, in a subprocess on 127.0.0.1.

The server prints its address (``--port 0`` picks a free port) once the model is
loaded; fixtures read that line, and stop the server with SIGINT as Ctrl+C would.
"""

from __future__ import annotations

import contextlib
import json
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.pipes import read_line
from tests.user_process import user_cwd, user_env

SYSTEM = "You are a helpful AI assistant."
KEY = "s3cret-test-key"


@dataclass
class Server:
    process: subprocess.Popen[str]
    url: str  # http://127.0.0.1:PORT/v1
    log: Path

    @property
    def root(self) -> str:
        return self.url.removesuffix("/v1")

    def health(self) -> dict:
        with urllib.request.urlopen(self.root + "/health", timeout=10) as response:
            return json.load(response)

    def stderr(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def start_server(
    args: list[str], env: dict[str, str], log: Path, *, url_host: str = r"127\.0\.0\.1"
) -> Server:
    with open(log, "w", encoding="utf-8") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "amalia_local", "serve", *args],
            stdout=subprocess.PIPE,
            stderr=err,
            stdin=subprocess.DEVNULL,
            text=True,
            encoding="utf-8",
            env=env,
            cwd=user_cwd(env),
        )
    assert process.stdout is not None
    # printed once the model is loaded and the port bound
    try:
        line = read_line(process.stdout, timeout=300)
    except AssertionError:
        line = ""
    if not line:
        process.kill()
        raise AssertionError(f"server did not start: {log.read_text()}")
    match = re.search(rf"(http://{url_host}:\d+/v1)", line)
    assert match, line
    return Server(process, match.group(1), log)


def stop_server(server: Server) -> None:
    server.process.send_signal(signal.SIGINT)
    try:
        server.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


@contextlib.contextmanager
def serving(home: Path, args: list[str]) -> Iterator[Server]:
    """A server for a module's tests, in ``home``: stopped after them, its log then free
    of tracebacks."""
    server = start_server(args, serve_env(home), home / "err.log")
    try:
        yield server
    finally:
        stop_server(server)
    assert "Traceback" not in server.stderr()


def serve_env(home: Path) -> dict[str, str]:
    """A user's environment whose amalia folder is ``home`` (their HOME beside it)."""
    return user_env(home.parent / f"{home.name}-user", AMALIA_HOME=str(home))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition, timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


def post(url: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, Any, dict]:
    """Raw POST: status, headers (case-insensitive), JSON body, as a plain client sees them."""
    request = urllib.request.Request(url, data=body, method="POST")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=300) as response:
            return response.status, response.headers, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, json.loads(exc.read() or b"{}")


@pytest.fixture(scope="module")
def smollm_server(smollm: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """SmolLM2 with 8 parallel sequences and an API key: the load and API tests."""
    home = tmp_path_factory.mktemp("serve-home")
    server = start_server(
        [
            str(smollm),
            "--port",
            "0",
            "--parallel",
            "8",
            "--ctx",
            "1024",
            "--threads",
            "2",
            "--api-key",
            KEY,
        ],
        serve_env(home),
        home / "stderr.log",
    )
    yield server
    stop_server(server)


@pytest.fixture(scope="module")
def one_slot_server(smollm: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One sequence, a queue of one, unloading after 1.2 s idle: queueing and freeing."""
    home = tmp_path_factory.mktemp("serve-one")
    server = start_server(
        [
            str(smollm),
            "--port",
            "0",
            "--parallel",
            "1",
            "--max-queue",
            "1",
            "--ctx",
            "2048",
            "--threads",
            "2",
            "--idle-unload",
            "0.02",
        ],
        serve_env(home),
        home / "stderr.log",
    )
    yield server
    stop_server(server)
