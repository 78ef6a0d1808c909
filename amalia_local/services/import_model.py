"""``amalia import PATH.gguf [--name NAME]``: bring a local GGUF file into the store."""

from __future__ import annotations

from typing import TextIO

from amalia_local.formatting import human_bytes
from amalia_local.runtime import Runtime
from amalia_local.store import ModelStore


def import_model(
    path: str, name: str | None, store: ModelStore, runtime: Runtime, out: TextIO
) -> int:
    model = store.import_file(path, name)
    key = "import.done_linked" if model.linked else "import.done_copied"
    out.write(runtime.t(key, name=model.name, size=human_bytes(model.size), path=model.path) + "\n")
    return 0
