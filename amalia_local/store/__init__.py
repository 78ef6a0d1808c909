"""Models by name: the catalogue, the store of installed models, Hub downloads.

Public API (what the CLI and the chat UI call; nothing else is needed):

* ``ModelStore.open(locations, offline=False, config_offline=False) -> ModelStore``
  - ``.installed() -> list[Installed]`` — what is installed (name, path, sha256, size, ...)
  - ``.pull(name, progress=None) -> PullResult`` — download, verify, register.
    ``progress(done_bytes, total_bytes_or_None)`` is called from the calling thread as
    bytes arrive; run it in a worker thread in a UI. To cancel, raise ``PullCancelled``
    from the callback: the partial file is kept and the next pull resumes it. Raises
    ``StoreError`` subclasses (``OfflineError``, ``NetworkError``, ``ChecksumError``...).
  - ``.import_file(path, name=None) -> Installed``, ``.remove(name) -> Removal`` (the file
    is deleted only if amalia downloaded or imported it and no other entry uses it;
    ``.plan_removal(name)`` says beforehand what will happen)
  - ``.find(name) -> Installed | None``, ``.get(name) -> Installed`` (raises),
    ``.resolve_path(name_or_path) -> str`` — what ``run``/``info``/chat open.
* ``catalogue.entries() -> tuple[Entry, ...]`` — the catalogue, default model first;
  ``Entry.describe(lang)`` gives the one-line pt-PT/English description.
* Which catalogue models fit this machine is not the store's business: see
  :mod:`amalia_local.fit` (``fit.recommend``, ``fit.assess``).

Errors are typed (:mod:`amalia_local.store.errors`) and carry catalogue keys, so the UI
shows the same one-line messages as the CLI.
"""

from amalia_local.store import catalogue
from amalia_local.store.errors import PullCancelled, StoreError
from amalia_local.store.hub import HubSettings
from amalia_local.store.index import Installed
from amalia_local.store.store import ModelStore, PullResult

__all__ = [
    "HubSettings",
    "Installed",
    "ModelStore",
    "PullCancelled",
    "PullResult",
    "StoreError",
    "catalogue",
]
