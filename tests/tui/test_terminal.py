"""``amalia`` as a user starts it: in a real pseudo-terminal, then Ctrl+Q."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import re
import select
import struct
import sys
import termios
import time
from pathlib import Path

from user_process import user_env

ANSI = re.compile(rb"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>]|\x1b\][^\x07]*\x07")


def run_in_pty(args: list[str], home: Path, wait_for: bytes, then_wait: float = 1.0):
    """Start the installed ``amalia ARGS`` (the console script pip wrote beside this
    Python) as a user does: their environment, from their folder, in a terminal.
    Returns (screen text, exit status)."""
    env = user_env(home.parent / "user", AMALIA_HOME=str(home), TERM="xterm-256color")
    program = str(Path(sys.executable).parent / "amalia")
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(env["HOME"])
        os.execve(program, [program, *args], env)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 32, 100, 0, 0))
    raw = b""
    status = None
    deadline = time.monotonic() + 60
    quit_at = None
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.05)
            if ready:
                with contextlib.suppress(OSError):  # EIO once the child has gone
                    raw += os.read(fd, 65536)
            text = ANSI.sub(b"", raw).replace(b"\xc2\xa0", b" ")
            if quit_at is None and wait_for in text:
                quit_at = time.monotonic() + then_wait
            if quit_at is not None and time.monotonic() >= quit_at:
                os.write(fd, b"\x11")  # Ctrl+Q
                quit_at = float("inf")
            done, code = os.waitpid(pid, os.WNOHANG)
            if done:
                status = code
                break
    finally:
        if status is None:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        os.close(fd)
    return ANSI.sub(b"", raw).decode("utf-8", "replace"), status


def test_chat_starts_in_a_terminal_loads_the_model_and_quits(tmp_path: Path, tiny_model: Path):
    screen, status = run_in_pty(
        ["chat", str(tiny_model)], tmp_path / "home", b"tiny-scripted \xc2\xb7 CPU"
    )
    assert status == 0, screen[-2000:]
    assert "Type a question" in screen
    # llama.cpp's own log goes to the log file, never onto the screen.
    assert "llama_model_loader" not in screen and "Traceback" not in screen
    assert "llama_model_loader" in (tmp_path / "home" / "logs" / "llama.log").read_text()


def test_plain_amalia_without_a_model_shows_the_first_run_screen(tmp_path: Path):
    screen, status = run_in_pty([], tmp_path / "home", b"Welcome to AMALIA", then_wait=0.2)
    assert status == 0, screen[-2000:]
    assert "Traceback" not in screen


def test_plain_amalia_in_a_pipe_prints_help(amalia):
    result = amalia()
    assert result.returncode == 0
    assert "chat" in result.stdout and "usage" in result.stdout.lower()
