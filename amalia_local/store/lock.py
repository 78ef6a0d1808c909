"""An inter-process lock on a file: fcntl on POSIX, msvcrt on Windows.

The operating system drops these locks when a process dies, so a crashed or killed
``amalia pull`` never leaves a stale lock behind (the weakness of O_EXCL lock files).
The lock file itself stays; it is empty and harmless.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from types import TracebackType

from amalia_local.store.errors import StoreLockedError

# sys.platform rather than os.name: mypy reads this test, so it checks msvcrt's calls
# against Windows' stubs and fcntl's against POSIX's, each on its own platform.
if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


class FileLock:
    """Exclusive lock held for a ``with`` block; waits up to ``timeout`` seconds.

    ``timeout=None`` waits forever: a second ``amalia pull`` of the same file should wait
    for the first download rather than fail, however long that takes.
    """

    def __init__(self, path: Path, timeout: float | None = 30.0, poll: float = 0.05) -> None:
        self.path = path
        self.timeout = timeout
        self.poll = poll
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        while not _try_lock(fd):
            if deadline is not None and time.monotonic() >= deadline:
                os.close(fd)
                raise StoreLockedError("error.store_locked", path=self.path)
            time.sleep(self.poll)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            try:
                _unlock(self._fd)
            finally:
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
