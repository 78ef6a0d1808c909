"""``amalia import PATH.gguf [--name NAME]``: bring a local GGUF file into the store.

``amalia import DIR`` with a bundle folder goes to :mod:`amalia_local.services.bundle`.
"""

from __future__ import annotations

import os
from typing import TextIO

from amalia_local.runtime import Runtime
from amalia_local.store import ModelStore


def import_model(
    path: str, name: str | None, store: ModelStore, runtime: Runtime, out: TextIO
) -> int:
    if os.path.isdir(path):  # a bundle folder (amalia bundle create)
        from amalia_local.errors import UsageError
        from amalia_local.services.bundle import import_bundle

        if name is not None:
            raise UsageError("bundle.import_name_with_dir")
        return import_bundle(path, store, runtime, out)
    model = store.import_file(path, name)
    key = "import.done_linked" if model.linked else "import.done_copied"
    out.write(
        runtime.t(key, name=model.name, size=runtime.numbers.bytes(model.size), path=model.path)
        + "\n"
    )
    return 0
