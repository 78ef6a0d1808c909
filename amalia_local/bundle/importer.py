"""``amalia import DIR``: verify a bundle, then register its models in the store.

Nothing here opens a network connection: the store is used in offline mode only.

Models pulled from the Hub on the connected machine are put where a pull would have
put them — the Hugging Face cache, in huggingface_hub's layout (``blobs/<sha256>``,
``snapshots/<commit>/<file>``, ``refs/<revision>``) — and then registered by the
store's own offline pull, which finds them there and checks them again. The model
keeps its catalogue name, so ``amalia run amalia`` works on the air-gapped machine as
on the connected one, and other tools reading the Hub cache see the file too. Models
imported by hand on the connected machine are imported by hand here as well
(:meth:`ModelStore.import_file`, same name). Either way the file is hard-linked when the
bundle is on the same disk, else copied.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from amalia_local.bundle.errors import BundleDamagedError, BundleError
from amalia_local.bundle.manifest import ModelEntry, safe_path
from amalia_local.bundle.verify import Report, verify
from amalia_local.errors import AmaliaError
from amalia_local.filecopy import CopyMismatch, link_or_copy
from amalia_local.store import Installed, ModelStore
from amalia_local.store.errors import BadNameError, OfflineError
from amalia_local.store.names import name_from_filename

_COMMIT = re.compile(r"^[0-9a-f]{40}$")


@dataclass(frozen=True)
class Imported:
    name: str
    path: str
    size: int
    how: str  # "already", "linked" or "copied"
    renamed_from: str | None = None  # when it could not keep its catalogue name


def offline_store(store: ModelStore) -> ModelStore:
    """The same store with the network switched off, whatever the user's settings."""
    settings = replace(
        store.hub, offline=True, offline_reason=store.hub.offline_reason or "--offline"
    )
    return ModelStore(store.root, settings, store.catalogue)


def check(root: Path, progress: Callable[[int, int], None] | None = None) -> Report:
    """Verify before anything is registered; a damaged bundle imports nothing."""
    report = verify(root, progress)
    check_report(report, root)
    return report


def check_report(report: Report, root: Path) -> None:
    """Raise BundleDamagedError when files are missing or corrupted (extras are harmless:
    nothing reads them)."""
    if report.damaged:
        raise BundleDamagedError(
            "bundle.damaged",
            missing=len(report.missing),
            corrupted=len(report.corrupted),
            path=root,
        )


def import_models(root: Path, report: Report, store: ModelStore) -> list[Imported]:
    """Register every model of a verified bundle (``check`` first)."""
    store = offline_store(store)
    done = []
    for model in report.manifest.models:
        source = safe_path(root, model.path)
        present = _find(store, model.name)
        if present is not None and present.exists and present.sha256 == model.sha256:
            done.append(Imported(present.name, present.path, present.size, "already"))
            continue
        if model.source == "hub" and _seed_hub_cache(source, model, store):
            try:
                registered = store.pull(model.name).model
            except OfflineError:
                pass  # the catalogue here names the file differently: import it by hand
            else:
                done.append(_from_hub_cache(model, registered))
                continue
        done.append(_import_file(source, model, store))
    return done


def _find(store: ModelStore, name: str) -> Installed | None:
    """The installed model of that name; None for names this store cannot parse."""
    try:
        return store.find(name)
    except AmaliaError:
        return None


def _from_hub_cache(model: ModelEntry, registered: Installed) -> Imported:
    """Registered bytes must be the bundle's bytes (the store checked the sha256)."""
    if registered.sha256 != model.sha256:
        raise BundleError("bundle.import_mismatch", name=registered.name)
    linked = Path(registered.path).resolve().stat().st_nlink > 1
    how = "linked" if linked else "copied"
    return Imported(registered.name, registered.path, registered.size, how)


def _import_file(source: Path, model: ModelEntry, store: ModelStore) -> Imported:
    """A hand-imported model, or a Hub model that cannot go into the Hub cache: under
    its own name when the store accepts it, else under one made from its file name."""
    try:
        installed = store.import_file(source, model.name)
        renamed_from = None
    except BadNameError:
        installed = store.import_file(source, name_from_filename(Path(model.path).stem))
        renamed_from = model.name
    if installed.sha256 != model.sha256:
        store.remove(installed.name)
        raise BundleError("bundle.import_mismatch", name=installed.name)
    how = "linked" if installed.linked else "copied"
    return Imported(installed.name, installed.path, installed.size, how, renamed_from)


# --- the Hugging Face cache ---------------------------------------------------------------
def _seed_hub_cache(source: Path, model: ModelEntry, store: ModelStore) -> bool:
    """Place the file as huggingface_hub would; False when that is not possible here
    (unknown commit, a different commit already cached for that revision, no symlinks),
    in which case the caller imports it by hand under a file-derived name."""
    # (manifest.load has refused repo/revision/file/commit values that could leave the cache)
    if not (model.repo and model.filename and model.commit and _COMMIT.match(model.commit)):
        return False
    from huggingface_hub.file_download import repo_folder_name

    repo_dir = store.hub.cache_dir / repo_folder_name(repo_id=model.repo, repo_type="model")
    revision = model.revision or "main"
    if not _COMMIT.match(revision):
        ref = repo_dir / "refs" / revision
        if ref.is_file() and ref.read_text(encoding="utf-8").strip() != model.commit:
            return False  # the user's cache follows another commit: do not move it
    blob = repo_dir / "blobs" / model.sha256
    entry = repo_dir / "snapshots" / model.commit / model.filename
    blob.parent.mkdir(parents=True, exist_ok=True)
    if not (blob.is_file() and blob.stat().st_size == model.size):
        try:
            link_or_copy(source, blob, verified_sha256=model.sha256)
        except CopyMismatch as exc:
            raise BundleError("bundle.import_mismatch", name=source.name) from exc
    if not entry.exists():
        entry.parent.mkdir(parents=True, exist_ok=True)
        target = os.path.relpath(blob, entry.parent)
        try:
            entry.symlink_to(target)
        except OSError:
            return False  # e.g. Windows without developer mode
    if not _COMMIT.match(revision):
        ref = repo_dir / "refs" / revision
        ref.parent.mkdir(parents=True, exist_ok=True)
        if not ref.is_file():
            ref.write_text(model.commit, encoding="utf-8")
    return True
