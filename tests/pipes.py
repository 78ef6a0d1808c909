"""Reading a child process's output in tests without ever blocking the run for good.

A test that calls ``stdout.readline()`` on a child waits as long as the child keeps its
pipe open: with no line and no exit (a buffered print, a hang) the whole run stops there.
"""

from __future__ import annotations

import threading
from typing import IO


def read_line(stream: IO[str], timeout: float) -> str:
    """The next line of ``stream``, or AssertionError after ``timeout`` seconds.

    The read happens on a daemon thread: when it times out, the caller kills the child,
    which closes the pipe and ends the thread.
    """
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    if reader.is_alive():
        raise AssertionError(f"the child printed no line within {timeout:g} s")
    return lines[0]
