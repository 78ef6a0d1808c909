"""The model store: installed models by name, pulled from the Hub or imported by hand.

Pulled files stay in the Hugging Face cache (one copy shared with every other tool);
imported files are hard-linked or copied under ``<data_dir>/models``. The index
(:mod:`amalia_local.store.index`) records what is installed, its sha256, size, source
and time.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from amalia_local.errors import ModelFileError
from amalia_local.filecopy import link_or_copy
from amalia_local.locations import Locations
from amalia_local.store import catalogue as catalogue_module
from amalia_local.store import hub
from amalia_local.store.catalogue import Catalogue
from amalia_local.store.errors import (
    AlreadyInstalledError,
    BadNameError,
    ModelInUseError,
    NotInstalledError,
    OfflineError,
    UnknownModelError,
)
from amalia_local.store.hub import HubSettings, ProgressCallback
from amalia_local.store.index import SOURCE_HUB, SOURCE_IMPORT, Installed, StoreIndex, now_iso
from amalia_local.store.lock import FileLock
from amalia_local.store.names import (
    HF_PREFIX,
    CatalogueRef,
    HubRef,
    LocalRef,
    ModelRef,
    hub_store_name,
    match_quant,
    name_from_filename,
    parse,
    valid_local_name,
)

MODELS_DIR = "models"


@dataclass(frozen=True)
class PullResult:
    model: Installed
    downloaded: int  # bytes transferred now; 0 when the file was already present
    already_installed: bool


class ModelStore:
    """Installed models under ``root`` (``<data_dir>/models``); safe across processes."""

    def __init__(self, root: Path, hub_settings: HubSettings, catalogue: Catalogue | None = None):
        self.root = root
        self.hub = hub_settings
        self.catalogue = catalogue or catalogue_module.load()
        self.index = StoreIndex(root)

    @classmethod
    def open(
        cls,
        locations: Locations | None = None,
        *,
        offline: bool = False,
        config_offline: bool = False,
        environ: Mapping[str, str] | None = None,
    ) -> ModelStore:
        """The user's store, with Hub settings from the environment and offline switches.

        With ``AMALIA_HOME`` set (a portable install, or tests) and no HF_HOME, the Hub cache
        moves under it too, so downloads land in the one folder the user chose.
        """
        env = dict(os.environ if environ is None else environ)
        locations = locations or Locations.resolve(env)
        default_cache = (
            locations.cache_dir / "huggingface" / "hub" if env.get("AMALIA_HOME") else None
        )
        settings = HubSettings.resolve(
            env,
            offline_flag=offline,
            config_offline=config_offline,
            default_cache=default_cache,
        )
        return cls(locations.data_dir / MODELS_DIR, settings)

    # --- lookup ------------------------------------------------------------------------
    def installed(self) -> list[Installed]:
        return sorted(self.index.read(), key=lambda m: m.name)

    def parse(self, name: str) -> ModelRef:
        return parse(name, self.catalogue)

    def find(self, name: str) -> Installed | None:
        """The installed model ``name`` refers to, without touching the network."""
        ref = self.parse(name)
        models = self.index.read()
        by_name = {m.name.lower(): m for m in models}
        for model in models:
            for alias in model.aliases:
                by_name.setdefault(alias.lower(), model)
        if isinstance(ref, CatalogueRef):
            found = by_name.get(ref.store_name)
            explicit_tag = ":" in name
            if found is None and not explicit_tag:
                # "amalia" with only amalia:q8_0 installed: use what is there.
                for quant in ref.entry.quants:
                    found = found or by_name.get(f"{ref.entry.name}:{quant.tag}")
            return found
        if isinstance(ref, HubRef):
            if ref.filename is not None:
                known = self.catalogue.by_file(ref.repo, ref.filename)
                key = f"{known[0].name}:{known[1].tag}" if known else ref.store_name
                return by_name.get(key.lower()) or by_name.get(ref.store_name.lower())
            alias = _hub_alias(ref)
            if alias in by_name:
                return by_name[alias]
            for model in models:
                same_repo = (model.repo or "").lower() == ref.repo.lower()
                if same_repo and model.filename and match_quant([model.filename], ref.quant or ""):
                    return model
            return None
        return by_name.get(ref.store_name)

    def get(self, name: str) -> Installed:
        """Like :meth:`find` but raises a clear error when the model is not usable."""
        found = self.find(name)
        if found is None:
            ref = self.parse(name)
            if isinstance(ref, LocalRef):
                raise UnknownModelError("error.unknown_model", name=name)
            raise NotInstalledError("error.not_installed", name=name)
        if not found.exists:
            raise NotInstalledError(
                "error.installed_file_missing", name=found.name, path=found.path
            )
        return found

    def resolve_path(self, reference: str) -> str:
        """A path for the engine from a path *or* a store name (``run``, ``info``, chat)."""
        if reference.lower().startswith(HF_PREFIX):
            return self.get(reference).path
        path = Path(reference).expanduser()
        looks_like_path = (
            reference.lower().endswith(".gguf")
            or os.sep in reference
            or (os.altsep is not None and os.altsep in reference)
            or reference.startswith("~")
        )
        if looks_like_path:
            return str(path)
        # A bare word is a store name first: "amalia run amalia" must not open a
        # sub-folder that happens to be called "amalia". A plain file of that name is
        # used only when the store has no such model.
        try:
            known = self.find(reference) is not None
        except BadNameError:  # not a model name at all ("My Model"): only a file can be it
            return str(path)
        if not known and path.is_file():
            return str(path)
        return self.get(reference).path

    # --- pull --------------------------------------------------------------------------
    def pull(self, name: str, progress: ProgressCallback | None = None) -> PullResult:
        """Download (or find in the Hub cache), verify and register ``name``."""
        ref = self.parse(name)
        if isinstance(ref, CatalogueRef):
            # "amalia" means its default quantization here, even when only amalia:q8_0
            # is installed (find() would return that one, which is right for run).
            present = self.index.get(ref.store_name)
        else:
            present = self.find(name)
        if present is not None and present.exists:
            return PullResult(present, 0, already_installed=True)
        if isinstance(ref, LocalRef):
            raise UnknownModelError("error.unknown_model", name=name)
        aliases: tuple[str, ...] = ()
        if isinstance(ref, CatalogueRef):
            hub_ref = HubRef(ref.entry.repo, ref.quant.file, ref.quant.tag, ref.entry.revision)
            hub_ref = self._resolve_file(hub_ref, name)
            store_name = ref.store_name
        else:
            if ref.filename is None:
                aliases = (_hub_alias(ref),)
            hub_ref = self._resolve_file(ref, name)
            known = self.catalogue.by_file(hub_ref.repo, hub_ref.filename or "")
            store_name = f"{known[0].name}:{known[1].tag}" if known else hub_ref.store_name
            if known:
                aliases = (*aliases, hub_ref.store_name.lower())
        try:
            fetched = hub.fetch(hub_ref, self.hub, self.root / ".locks", progress)
        except OfflineError as exc:  # name the model as the user did, not its Hub path
            raise OfflineError("error.offline_download", name=name, **_reason(exc)) from exc
        # Big files had their header checked before the transfer (hub.check_head); this
        # full check covers small files and anything the header alone cannot show. A file
        # refused here that we just downloaded is deleted, not left orphaned in the cache.
        try:
            _inspect(fetched.path)
        except ModelFileError:
            if fetched.created:
                hub.remove_cached(fetched.path, self.hub)
            raise
        model = Installed(
            name=store_name,
            path=str(fetched.path),
            sha256=fetched.sha256,
            size=fetched.size,
            source=SOURCE_HUB,
            installed_at=now_iso(),
            repo=hub_ref.repo,
            filename=hub_ref.filename,
            revision=hub_ref.revision,
            commit=fetched.commit,
            aliases=aliases,
            downloaded_here=fetched.created,
        )

        def register(models: list[Installed]) -> list[Installed]:
            rest = [m for m in models if m.name != store_name]
            old = next((m for m in models if m.name == store_name), None)
            merged = model
            if old is not None:
                merged = replace(
                    model,
                    aliases=tuple(dict.fromkeys((*old.aliases, *aliases))),
                    downloaded_here=model.downloaded_here or old.downloaded_here,
                )
            return [*rest, merged]

        self.index.update(register)
        return PullResult(model, fetched.downloaded, already_installed=False)

    def _resolve_file(self, ref: HubRef, name: str) -> HubRef:
        try:
            return hub.resolve_file(ref, self.hub)
        except OfflineError as exc:
            raise OfflineError("error.offline_download", name=name, **_reason(exc)) from exc

    # --- import ------------------------------------------------------------------------
    def import_file(self, source: str | os.PathLike[str], name: str | None = None) -> Installed:
        """Validate a GGUF file as the engine does, then hard-link or copy it in."""
        source_path = Path(source).expanduser()
        _inspect(source_path)
        name = (name or name_from_filename(source_path.stem)).lower()
        self._check_import_name(name)
        models_dir = self.root / "files"
        dest = models_dir / f"{name.replace(':', '_')}.gguf"
        with FileLock(self.root / ".locks" / f"import-{dest.stem}.lock", timeout=None):
            if self.index.get(name) is not None:
                raise AlreadyInstalledError("error.already_installed", name=name)
            models_dir.mkdir(parents=True, exist_ok=True)
            sha256, linked = link_or_copy(source_path, dest)
            model = Installed(
                name=name,
                path=str(dest),
                sha256=sha256,
                size=dest.stat().st_size,
                source=SOURCE_IMPORT,
                installed_at=now_iso(),
                origin=str(source_path.resolve()),
                linked=linked,
            )

            def register(models: list[Installed]) -> list[Installed]:
                if any(m.name == name for m in models):
                    raise AlreadyInstalledError("error.already_installed", name=name)
                return [*models, model]

            try:
                self.index.update(register)
            except BaseException:
                dest.unlink(missing_ok=True)
                raise
        return model

    def _check_import_name(self, name: str) -> None:
        if not valid_local_name(name):
            raise BadNameError("error.bad_model_name", name=name)
        if name.startswith(HF_PREFIX) or self.catalogue.get(name.partition(":")[0]) is not None:
            raise BadNameError("error.import_name_reserved", name=name)

    # --- remove ------------------------------------------------------------------------
    def plan_removal(self, name: str) -> Removal:
        """What ``remove(name)`` would do, changing nothing (for the confirmation)."""
        target = self.find(name)
        if target is None:
            raise NotInstalledError("error.not_installed", name=name)
        return _plan(target, self.index.read())

    def remove(self, name: str) -> Removal:
        """Unregister ``name``; delete its file only if amalia put it there and no other
        entry uses it. A file in the shared Hub cache that another tool downloaded is
        someone else's: it stays, and the result says so."""
        target = self.find(name)
        if target is None:
            raise NotInstalledError("error.not_installed", name=name)
        plan: list[Removal] = []

        def unregister(models: list[Installed]) -> list[Installed]:
            plan.append(_plan(target, models))
            return [m for m in models if m.name != target.name]

        self.index.update(unregister)
        removal = plan[0]
        if not removal.deletes_file:
            return removal
        path = Path(target.path)
        freed = False
        try:
            if target.source == SOURCE_IMPORT:
                if self.root.resolve() in path.resolve().parents:
                    path.unlink(missing_ok=True)
                    freed = True
            else:
                freed = hub.remove_cached(path, self.hub)
        except PermissionError as exc:
            # Windows refuses to delete a file another process has mapped (a chat or
            # `amalia serve` running this model): the entry comes back, nothing is lost.
            self.index.update(lambda models: [*models, target])
            raise ModelInUseError("error.model_in_use", name=name, path=path) from exc
        return replace(removal, freed=target.size if freed else 0)


@dataclass(frozen=True)
class Removal:
    """An entry taken out of the store, and what happened to its file."""

    model: Installed
    deletes_file: bool
    kept_because: str | None = None  # KEPT_FOREIGN or KEPT_SHARED when the file stays
    used_by: str | None = None  # KEPT_SHARED: the other entry's name
    freed: int = 0  # bytes actually deleted


KEPT_FOREIGN = "foreign"  # in the Hub cache, downloaded by another tool
KEPT_SHARED = "shared"  # another store entry uses the same file


def _plan(target: Installed, models: list[Installed]) -> Removal:
    target_file = _real(target.path)
    for other in models:
        if other.name != target.name and _real(other.path) == target_file:
            return Removal(target, False, KEPT_SHARED, other.name)
    if target.source == SOURCE_HUB and not target.downloaded_here:
        return Removal(target, False, KEPT_FOREIGN)
    return Removal(target, True)


def _real(path: str) -> str:
    try:
        return str(Path(path).resolve())
    except OSError:
        return path


def _reason(exc: OfflineError) -> dict[str, object]:
    return {"reason": exc.params.get("reason")}


def _hub_alias(ref: HubRef) -> str:
    return f"{HF_PREFIX}{ref.repo}:{ref.quant}".lower()


__all__ = ["KEPT_FOREIGN", "KEPT_SHARED", "ModelStore", "PullResult", "Removal", "hub_store_name"]


def _inspect(path: Path) -> None:
    """Validate a GGUF file (model_file.inspect) before it enters the store.

    Imported here, not at the top: model_file brings gguf and numpy (half a second), which
    ``amalia list`` and ``rm`` never need.
    """
    from amalia_local.model_file import inspect

    inspect(path)
