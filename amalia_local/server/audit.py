"""The audit log: one JSON line per request, appended by a thread of its own.

A request only puts a small dict on a bounded queue (microseconds); the writer thread
turns it into JSON, appends it, flushes, and rotates the file by size
(``audit.jsonl`` -> ``audit.jsonl.1`` -> ... -> ``audit.jsonl.KEEP``, the oldest
dropped). Nothing here raises into a request: a full disk or a removed directory is one
warning line, the entries lost are counted (and shown by /metrics), and one line again
when writing works once more. A writer that cannot keep up drops entries instead of
letting the queue grow without bound.

The file is created private (0600): it says who asked what, and with ``--log-content``
the questions themselves.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from amalia_local.errors import ServeError

log = logging.getLogger(__name__)

QUEUE_ENTRIES = 10_000
_STOP = object()


class AuditLog:
    def __init__(self, path: Path, max_bytes: int, keep: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.keep = keep
        self.lost = 0  # entries that never reached the file (read by /metrics)
        self._queue: queue.Queue[Any] = queue.Queue(QUEUE_ENTRIES)
        self._failing = False
        self._file = self._open()
        self._size = self._file.tell()
        self._thread = threading.Thread(target=self._run, name="audit-log", daemon=True)
        self._thread.start()

    def _open(self) -> BinaryIO:
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        file = os.fdopen(fd, "ab")
        file.seek(0, os.SEEK_END)
        return file

    @classmethod
    def open(cls, path: Path, max_bytes: int, keep: int) -> AuditLog:
        """The log, or one line (ServeError) when the file cannot be opened at start."""
        try:
            return cls(path, max_bytes, keep)
        except OSError as exc:
            raise ServeError(
                "error.audit_log_open", path=path, reason=exc.strerror or exc
            ) from None

    # --- the request's side ---------------------------------------------------------------
    def write(self, entry: dict[str, Any]) -> None:
        """Queue one entry; never blocks, never raises."""
        try:
            self._queue.put_nowait(entry)
        except queue.Full:
            self.lost += 1
            if not self._failing:
                self._failing = True
                log.warning(
                    "audit log: the writer is behind by %d entries; dropping", QUEUE_ENTRIES
                )

    def close(self) -> None:
        """Write what is queued, then stop (at most a few seconds)."""
        with contextlib.suppress(queue.Full):
            self._queue.put(_STOP, timeout=5)
        self._thread.join(timeout=5)
        with contextlib.suppress(OSError):
            self._file.close()

    # --- the writer thread ----------------------------------------------------------------
    def _run(self) -> None:
        while True:
            entries = [self._queue.get()]
            with contextlib.suppress(queue.Empty):
                while len(entries) < 1000:
                    entries.append(self._queue.get_nowait())
            stop = any(entry is _STOP for entry in entries)
            lines = [_line(entry) for entry in entries if entry is not _STOP]
            if lines:
                self._append(lines)
            if stop:
                return

    def _append(self, lines: list[bytes]) -> None:
        """Write a batch, rotating before the line that would pass the size; one flush."""
        buffered = flushed = 0  # lines in the buffer, lines known to have reached the file
        try:
            for line in lines:
                if self._size > 0 and self._size + len(line) > self.max_bytes:
                    self._file.flush()
                    flushed += buffered
                    buffered = 0
                    self._rotate()
                self._file.write(line)
                self._size += len(line)
                buffered += 1
            self._file.flush()
        except (OSError, ValueError) as exc:  # ValueError: closed by a failed rotation
            self.lost += len(lines) - flushed  # the buffer is dropped with the file
            self._recover()
            if not self._failing:
                self._failing = True
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
                log.warning(
                    "audit log: cannot write %s (%s); entries are being lost", self.path, reason
                )
            return
        if self._failing:
            self._failing = False
            log.warning(
                "audit log: writing again to %s (%d entries lost so far)", self.path, self.lost
            )

    def _rotate(self) -> None:
        self._file.close()
        if self.keep == 0:
            os.unlink(self.path)
        else:
            for n in range(self.keep - 1, 0, -1):
                older = Path(f"{self.path}.{n}")
                if older.exists():
                    os.replace(older, f"{self.path}.{n + 1}")
            os.replace(self.path, f"{self.path}.1")
        self._file = self._open()
        self._size = 0

    def _recover(self) -> None:
        """After a failure, a fresh file for the next batch: the old one may be closed
        (a failed rotation) or hold a partial write it would retry forever."""
        with contextlib.suppress(OSError, ValueError):
            self._file.close()
        with contextlib.suppress(OSError):
            self._file = self._open()
            self._size = self._file.tell()


def _line(entry: dict[str, Any]) -> bytes:
    if isinstance(entry.get("time"), float):
        moment = datetime.fromtimestamp(entry["time"], UTC)
        entry["time"] = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    body = entry.pop("_body", None)
    if body is not None:
        entry["request"] = _content(body)
    try:  # allow_nan: a NaN or Infinity of a refused body is no JSON: kept as its text
        text = json.dumps(entry, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (ValueError, RecursionError):  # content nested beyond what json writes back
        entry["request"] = body.decode("utf-8", "replace") if body is not None else None
        text = json.dumps(entry, ensure_ascii=False, separators=(",", ":"))
    return (text + "\n").encode("utf-8", "replace")


def _content(body: bytes) -> Any:
    """The request as it was sent: its JSON when it is JSON, else its text."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return body.decode("utf-8", "replace")
