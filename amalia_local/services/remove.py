"""``amalia rm NAME``: unregister a model and delete its file if it is ours, after asking."""

from __future__ import annotations

from dataclasses import replace
from typing import TextIO

from amalia_local.config import Config
from amalia_local.runtime import Runtime
from amalia_local.store import ModelStore
from amalia_local.store.errors import StoreError
from amalia_local.store.store import KEPT_SHARED, Removal


def remove(
    name: str, store: ModelStore, runtime: Runtime, out: TextIO, stdin: TextIO | None, yes: bool
) -> int:
    """Deleting gigabytes is never done silently: a terminal is asked, a script must say
    ``--yes`` (reading "y" from a pipe could be an accident, so a pipe is refused)."""
    plan = store.plan_removal(name)
    target = plan.model
    size = runtime.numbers.bytes(target.size)
    if not yes:
        if stdin is None or not stdin.isatty():
            raise StoreError("error.rm_needs_yes", name=target.name)
        key = "rm.confirm" if plan.deletes_file else "rm.confirm_keep"
        out.write(runtime.t(key, name=target.name, size=size))
        out.flush()
        answer = stdin.readline().strip().lower()
        if answer not in {"y", "yes", "s", "sim"}:
            out.write(runtime.t("rm.kept", name=target.name) + "\n")
            return 1
    removal = store.remove(target.name)
    out.write(_outcome(removal, runtime) + "\n")
    _forget_default(target.name, runtime)
    return 0


def _outcome(removal: Removal, runtime: Runtime) -> str:
    """What was freed, or where the file stays and why: the cache is shared."""
    model = removal.model
    size = runtime.numbers.bytes(model.size)
    if removal.deletes_file and removal.freed:
        return runtime.t("rm.done", name=model.name, size=runtime.numbers.bytes(removal.freed))
    if removal.kept_because == KEPT_SHARED:
        return runtime.t(
            "rm.done_kept_shared",
            name=model.name,
            size=size,
            other=removal.used_by,
            path=model.path,
        )
    if removal.deletes_file:  # ours, but another Hub snapshot still points at the bytes
        return runtime.t("rm.done_kept_snapshot", name=model.name, size=size, path=model.path)
    return runtime.t("rm.done_kept_foreign", name=model.name, size=size, path=model.path)


def _forget_default(name: str, runtime: Runtime) -> None:
    """A removed default model would make plain ``amalia`` fail to load; the next pull
    (or the first-run screen) picks a new one instead."""
    config_dir = runtime.locations.config_dir
    config = Config.load(config_dir)
    if config.model == name:
        replace(config, model=None).save(config_dir)
