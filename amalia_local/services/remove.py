"""``amalia rm NAME``: unregister a model and delete its file, after asking."""

from __future__ import annotations

from typing import TextIO

from amalia_local.formatting import human_bytes
from amalia_local.runtime import Runtime
from amalia_local.store import ModelStore
from amalia_local.store.errors import NotInstalledError, StoreError


def remove(
    name: str, store: ModelStore, runtime: Runtime, out: TextIO, stdin: TextIO | None, yes: bool
) -> int:
    """Deleting gigabytes is never done silently: a terminal is asked, a script must say
    ``--yes`` (reading "y" from a pipe could be an accident, so a pipe is refused)."""
    target = store.find(name)
    if target is None:
        raise NotInstalledError("error.not_installed", name=name)
    size = human_bytes(target.size)
    if not yes:
        if stdin is None or not stdin.isatty():
            raise StoreError("error.rm_needs_yes", name=target.name)
        out.write(runtime.t("rm.confirm", name=target.name, size=size))
        out.flush()
        answer = stdin.readline().strip().lower()
        if answer not in {"y", "yes", "s", "sim"}:
            out.write(runtime.t("rm.kept", name=target.name) + "\n")
            return 1
    removed = store.remove(target.name)
    out.write(runtime.t("rm.done", name=removed.name, size=size) + "\n")
    return 0
