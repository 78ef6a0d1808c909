"""The store's record of installed models: one JSON file, changed only under a lock.

Every change is read-modify-write inside :class:`~amalia_local.store.lock.FileLock` and
written to a temporary file that replaces the index atomically, so two processes pulling
at once, or a crash mid-write, can never leave a half-written or mixed-up index.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from amalia_local.filecopy import write_text_atomic
from amalia_local.store.errors import StoreError
from amalia_local.store.lock import FileLock

INDEX_NAME = "index.json"
SCHEMA = 1

SOURCE_HUB = "hub"
SOURCE_IMPORT = "import"


@dataclass(frozen=True)
class Installed:
    """One installed model: where it is, what it is, and where it came from."""

    name: str  # canonical store name: "amalia:q4_k_m", "hf:owner/repo/file.gguf", "mine"
    path: str
    sha256: str
    size: int
    source: str  # SOURCE_HUB or SOURCE_IMPORT
    installed_at: str  # ISO 8601, UTC
    repo: str | None = None
    filename: str | None = None
    revision: str | None = None
    commit: str | None = None
    origin: str | None = None  # imports: the file it was copied or linked from
    linked: bool = False  # imports: hard link instead of copy
    aliases: tuple[str, ...] = ()  # other names that reached this file ("hf:o/r:q4_k_m")
    # Hub files: amalia itself transferred the bytes into the shared cache. Only such a
    # file is deleted by ``amalia rm``; one another tool fetched stays where it was.
    # Records written before this field existed read as False: kept, never lost.
    downloaded_here: bool = False

    @property
    def exists(self) -> bool:
        return Path(self.path).is_file()

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["aliases"] = list(self.aliases)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Installed:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["aliases"] = tuple(values.get("aliases", ()))
        return cls(**values)


def now_iso() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


class StoreIndex:
    """The installed-models table at ``<root>/index.json``."""

    def __init__(self, root: Path, lock_timeout: float = 30.0) -> None:
        self.root = root
        self.path = root / INDEX_NAME
        self._lock_path = root / ".index.lock"
        self._lock_timeout = lock_timeout

    def read(self) -> list[Installed]:
        """A consistent snapshot; readers need no lock because writes are atomic renames."""
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            raise StoreError("error.index_invalid", path=self.path, reason=str(exc)) from exc
        try:
            return [Installed.from_json(item) for item in raw.get("models", [])]
        except (TypeError, AttributeError) as exc:
            raise StoreError("error.index_invalid", path=self.path, reason=str(exc)) from exc

    def get(self, name: str) -> Installed | None:
        wanted = name.lower()
        for item in self.read():
            if item.name.lower() == wanted or wanted in (a.lower() for a in item.aliases):
                return item
        return None

    @contextmanager
    def locked(self) -> Iterator[None]:
        with FileLock(self._lock_path, timeout=self._lock_timeout):
            yield

    def update(self, change: Callable[[list[Installed]], list[Installed]]) -> list[Installed]:
        """Apply ``change`` to the current table under the lock and save the result."""
        with self.locked():
            models = change(self.read())
            self._write(models)
            return models

    def _write(self, models: list[Installed]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        payload = {"schema": SCHEMA, "models": [m.to_json() for m in models]}
        text = json.dumps(payload, ensure_ascii=False, indent=2) + "\n"
        write_text_atomic(self.path, text, mode=0o600)
