"""``amalia pull NAME``: download a model by name, with a progress bar, and register it."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TextIO

from amalia_local.config import Config
from amalia_local.formatting import NumberFormat
from amalia_local.progress import Progress
from amalia_local.runtime import Runtime
from amalia_local.store import ModelStore


class ProgressBridge:
    """Turns the store's ``(done, total)`` callbacks into the shared terminal bar.

    The store reports plain numbers so the chat UI can draw its own bar; the CLI draws
    the same bar as ``convert`` (amalia_local.progress) rather than huggingface_hub's
    tqdm, so every long job looks alike, honours our language and stays quiet in logs.
    """

    def __init__(self, label: str, numbers: NumberFormat, stream: TextIO | None = None) -> None:
        self._label = label
        self._numbers = numbers
        self._stream = stream
        self._bar: Progress | None = None

    def __call__(self, done: int, total: int | None) -> None:
        if self._bar is None:
            self._bar = Progress(
                total, label=self._label, stream=self._stream, numbers=self._numbers
            ).__enter__()
            self._bar.done = done  # resumed bytes are not part of this run's rate
            return
        self._bar.update(done - self._bar.done)

    def close(self, ok: bool) -> None:
        if self._bar is not None:
            self._bar.__exit__(None if ok else RuntimeError, None, None)
            self._bar = None


def pull(name: str, store: ModelStore, runtime: Runtime, out: TextIO) -> int:
    if not runtime.verbose:
        # huggingface_hub logs each retried connection as a warning; our bar and the
        # final line say what matters. --verbose shows them.
        logging.getLogger("huggingface_hub").setLevel(logging.ERROR)
    bridge = ProgressBridge(runtime.t("pull.downloading", name=name), runtime.numbers)
    ok = False
    try:
        result = store.pull(name, progress=bridge)
        ok = True
    finally:
        bridge.close(ok)
    model = result.model
    key = "pull.already" if result.already_installed else "pull.done"
    out.write(
        runtime.t(key, name=model.name, size=runtime.numbers.bytes(model.size), path=model.path)
        + "\n"
    )
    if set_default_model(model.name, runtime):
        out.write(runtime.t("pull.default_set", name=model.name) + "\n")
    return 0


def set_default_model(name: str, runtime: Runtime) -> bool:
    """Make ``name`` the model plain ``amalia`` opens, if the user has not chosen one.

    Without this the README's "pull, then ``amalia``" would land on the first-run picker
    instead of the chat with the model just downloaded. A choice already made is kept.
    """
    config_dir = runtime.locations.config_dir
    config = Config.load(config_dir)
    if config.model:
        return False
    replace(config, model=name).save(config_dir)
    return True
