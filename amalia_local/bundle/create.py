"""``amalia bundle create``: models, wheels, scripts and a manifest in one new folder.

Everything is written into a hidden temporary folder next to OUT_DIR and renamed into
place at the very end, so an interrupted or failed run never leaves something that
looks like a bundle; OUT_DIR must not exist or be empty (nothing is ever overwritten),
and free space is checked before the first byte is copied.
"""

from __future__ import annotations

import os
import platform as platform_module
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from amalia_local import __version__, cpu_features
from amalia_local.bundle import llama_build, scripts, wheelhouse, windows_build
from amalia_local.bundle.errors import BundleError, OutputExistsError
from amalia_local.bundle.manifest import (
    MODELS_DIR,
    WHEELS_DIR,
    FileEntry,
    LlamaBuild,
    Manifest,
    ModelEntry,
    Target,
)
from amalia_local.filecopy import copy_hashing, sha256_file
from amalia_local.formatting import Bytes
from amalia_local.store import Installed, ModelStore
from amalia_local.store.names import CatalogueRef, name_from_filename

# pip, the wheels and cmake/ninja for a foreign target: generous, checked again by pip.
WHEELHOUSE_ESTIMATE = 300 * 1000 * 1000


class Events(Protocol):
    """How create reports to a person: one translated line, or a byte progress bar."""

    def message(self, key: str, **params: object) -> None: ...

    def bar(
        self, total: int | None, key: str, *, unit: str = "B", **params: object
    ) -> AbstractContextManager[Any]: ...

    def pull_progress(self, name: str) -> Callable[[int, int | None], None]: ...


@dataclass(frozen=True)
class CreateRequest:
    out_dir: Path
    models: tuple[str, ...]
    target: wheelhouse.TargetRequest
    wheels_from: Path | None = None  # a folder of wheels: pip uses only it (no index)
    verbose: bool = False
    llama: str = "portable"  # or "native": ship this machine's own llama-cpp-python
    gpu: str = "none"  # GPU backend compiled into a portable build ("cuda")
    wheel_cache: Path | None = None  # where portable builds are kept between bundles
    build_log: Path | None = None  # the compiler's output for a portable build
    cpu_variants: tuple[str, ...] | None = None  # Windows cross-build: None is all of them


def create(request: CreateRequest, store: ModelStore, events: Events) -> Manifest:
    """Build the bundle; returns its manifest. Raises AmaliaError subclasses."""
    out = request.out_dir.expanduser().absolute()
    wheelhouse.check_target(request.target)
    _check_out_dir(out)
    if request.wheels_from is not None and not request.wheels_from.is_dir():
        raise BundleError("bundle.wheels_from_missing", path=request.wheels_from)
    names = list(dict.fromkeys(n.strip() for n in request.models))
    if not names:
        raise BundleError("bundle.no_models")
    _check_space(out.parent, sum(_expected_size(store, n) for n in names) + WHEELHOUSE_ESTIMATE)

    models = [_model(store, name, events) for name in names]
    models = list({m.name: m for m in models}.values())  # "amalia" and "amalia:q4_k_m"
    _check_space(out.parent, sum(m.size for m in models) + WHEELHOUSE_ESTIMATE)

    partial = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        partial.chmod(0o777 & ~_umask())  # mkdtemp's 0700 would hide it from other users
        entries = _copy_models(models, partial, store, events)
        house, built = _wheels(request, partial / WHEELS_DIR, events, offline=store.hub.offline)
        info = scripts.ScriptInfo(
            amalia_version=__version__,
            python=house.python,
            platform=house.platform,
            llama_version=house.llama_version,
            llama_from_source=house.llama_from_source,
            models=tuple((m.name, m.size) for m in entries),
            amalia_wheel=_own_wheel(partial / WHEELS_DIR),
        )
        _write_docs(partial, info)
        manifest = Manifest(
            created_at=datetime.now(UTC).replace(microsecond=0).isoformat(),
            amalia_local=__version__,
            target=Target(
                platform=house.platform,
                python=house.python,
                native=house.native,
                llama_cpp_python=house.llama_version,
                llama_cpp_from_source=house.llama_from_source,
            ),
            models=tuple(entries),
            files=tuple(_file_entries(partial, entries)),
            llama_build=built,
            created_with={
                "python": platform_module.python_version(),
                "platform": wheelhouse.this_platforms()[0],
                "system": f"{platform_module.system()} {platform_module.release()}",
            },
        )
        manifest.write(partial)
        _fsync_tree(partial)
        if out.exists():
            out.rmdir()  # empty (checked): a directory cannot be renamed over it everywhere
        os.rename(partial, out)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return manifest


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _check_out_dir(out: Path) -> None:
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise OutputExistsError("bundle.out_not_empty", path=out)
    if out.is_dir() and any(out.iterdir()):
        raise OutputExistsError("bundle.out_not_empty", path=out)
    if not out.parent.is_dir():
        raise BundleError("bundle.out_parent_missing", path=out.parent)


def _check_space(folder: Path, needed: int) -> None:
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise BundleError("bundle.no_space", path=folder, needed=Bytes(needed), free=Bytes(free))


def _expected_size(store: ModelStore, name: str) -> int:
    """Bytes the model will take in the bundle: installed size, else the catalogue's."""
    found = store.find(name)
    if found is not None and found.exists:
        return found.size
    ref = store.parse(name)
    return ref.quant.size if isinstance(ref, CatalogueRef) else 0


def _model(store: ModelStore, name: str, events: Events) -> Installed:
    """The installed model ``name``; pulled first (network) when it is not installed."""
    found = store.find(name)
    if found is not None and found.exists:
        return found
    events.message("bundle.pulling", name=name)
    return store.pull(name, progress=events.pull_progress(name)).model


def _bundle_filename(model: Installed, taken: set[str]) -> str:
    base = Path(model.filename).name if model.filename else ""
    if not base.lower().endswith(".gguf"):
        base = name_from_filename(model.name.replace(":", "-")) + ".gguf"
    name, n = base, 1
    while name.lower() in taken:
        n += 1
        name = f"{Path(base).stem}-{n}.gguf"
    taken.add(name.lower())
    return name


def _catalogue_info(store: ModelStore, model: Installed) -> dict[str, Any] | None:
    found = None
    if model.repo and model.filename:
        found = store.catalogue.by_file(model.repo, model.filename)
    if found is None:
        base, _, tag = model.name.partition(":")
        entry = store.catalogue.get(base)
        quant = entry.quant(tag or None) if entry is not None else None
        found = (entry, quant) if entry is not None and quant is not None else None
    if found is None:
        return None
    entry, quant = found
    return {
        "name": entry.name,
        "aliases": list(entry.aliases),
        "title": entry.title,
        "repo": entry.repo,
        "revision": entry.revision,
        "license": entry.license,
        "description": dict(entry.description),
        "quant": quant.tag,
    }


def _copy_models(
    models: Sequence[Installed], root: Path, store: ModelStore, events: Events
) -> list[ModelEntry]:
    folder = root / MODELS_DIR
    folder.mkdir()
    taken: set[str] = set()
    entries = []
    for model in models:
        filename = _bundle_filename(model, taken)
        dest = folder / filename
        with events.bar(model.size, "bundle.copying", name=model.name) as bar:
            sha256 = copy_hashing(Path(model.path), dest, bar.update)
        if sha256 != model.sha256:
            raise BundleError("bundle.store_file_corrupted", name=model.name, path=model.path)
        hub = model.source == "hub"
        entries.append(
            ModelEntry(
                name=model.name,
                path=f"{MODELS_DIR}/{filename}",
                sha256=sha256,
                size=dest.stat().st_size,
                source="hub" if hub else "import",
                repo=model.repo if hub else None,
                filename=model.filename if hub else None,
                revision=model.revision if hub else None,
                commit=model.commit if hub else None,
                catalogue=_catalogue_info(store, model),
            )
        )
    return entries


def _wheels(
    request: CreateRequest, dest: Path, events: Events, offline: bool
) -> tuple[wheelhouse.Wheelhouse, LlamaBuild]:
    """pip's configured indexes, or only ``--wheelhouse-from``; with ``--offline`` (or
    HF_HUB_OFFLINE / the setting) pip gets ``--no-index`` too and uses local folders."""
    sources = ["--no-index"] if offline or request.wheels_from is not None else []
    if request.wheels_from is not None:
        sources += ["--find-links", str(request.wheels_from.expanduser().absolute())]
    target = request.target
    label = f"{target.platform or wheelhouse.this_platforms()[0]}, Python "
    label += target.python or wheelhouse.this_python()
    portable = None
    pip = wheelhouse.Pip(sources, sys.stderr, request.verbose)
    if wheelhouse.is_native(target) and request.llama == "portable":
        portable = _portable_wheel(request, sources, events)
    elif target.platform == windows_build.PLATFORM and request.llama == "portable":
        portable = _windows_wheel(request, pip, events)
    events.message("bundle.wheels", target=label)
    with tempfile.TemporaryDirectory(prefix="amalia-bundle-") as work:
        house = wheelhouse.build(
            dest, Path(work), target, pip, __version__, portable.path if portable else None
        )
    if house.llama_from_source:
        events.message("bundle.needs_compiler", version=house.llama_version, target=label)
    return house, _build_record(house, portable, dest)


def _portable_wheel(
    request: CreateRequest, sources: list[str], events: Events
) -> llama_build.LlamaWheel:
    """The portable llama-cpp-python for this platform: cached, or compiled now."""
    if request.wheel_cache is None or request.build_log is None:
        raise BundleError("bundle.pip_failed", command="portable build: no cache folder")
    spec = llama_build.PortableSpec(
        request.wheel_cache,
        wheelhouse.llama_version(),
        request.gpu,
        wheelhouse.this_python(),
        wheelhouse.this_platforms()[0],
    )
    found = spec.cached()
    if found is not None:
        events.message("bundle.llama_cached", version=spec.version, path=found.path)
        return found
    events.message("bundle.llama_building", version=spec.version, log=request.build_log)
    with events.bar(None, "bundle.llama_compiling", unit="steps") as bar:

        def progress(step: int, steps: int) -> None:
            bar.total = steps
            bar.update(step - bar.done)

        return spec.ensure(sources, progress, request.build_log)


def _windows_wheel(
    request: CreateRequest, pip: wheelhouse.Pip, events: Events
) -> llama_build.LlamaWheel:
    """llama-cpp-python for Windows, cross-compiled here with mingw-w64: cached, or now."""
    if request.wheel_cache is None or request.build_log is None:
        raise BundleError("bundle.pip_failed", command="windows build: no cache folder")
    variants = windows_build.check_variants(request.cpu_variants or windows_build.ALL_VARIANTS)
    spec = windows_build.WindowsSpec(request.wheel_cache, wheelhouse.llama_version(), variants)
    found = spec.cached()
    if found is not None:
        events.message("bundle.llama_cached", version=spec.version, path=found.path)
        return found

    def fetch_sdist(folder: Path) -> Path:
        pip(
            "download",
            "--no-deps",
            f"--no-binary={wheelhouse.LLAMA}",
            "--dest",
            str(folder),
            *pip.sources,
            f"{wheelhouse.LLAMA}=={spec.version}",
        )
        found = sorted(folder.glob("*.tar.gz"))
        if not found:
            raise BundleError("bundle.pip_failed", command=f"download {wheelhouse.LLAMA}")
        return found[0]

    events.message(
        "bundle.win_building", version=spec.version, count=len(variants), log=request.build_log
    )
    started = time.monotonic()
    with events.bar(None, "bundle.llama_compiling", unit="steps") as bar:

        def progress(step: int, steps: int) -> None:
            bar.total = steps
            bar.update(step - bar.done)

        built = spec.ensure(fetch_sdist, progress, request.build_log)
    events.message(
        "bundle.win_built", version=spec.version, seconds=round(time.monotonic() - started)
    )
    return built


def _build_record(
    house: wheelhouse.Wheelhouse, portable: llama_build.LlamaWheel | None, dest: Path
) -> LlamaBuild:
    """What the manifest says about the shipped llama.cpp, read off the shipped wheel."""
    if portable is not None:
        return LlamaBuild(
            version=portable.version,
            kind="portable",
            cmake_args=portable.cmake_args,
            gpu=portable.gpu,
            cpu_variants=portable.cpu_variants,
            built_on=(),
        )
    if house.llama_from_source:
        return LlamaBuild(house.llama_version, "source", "", "none", (), ())
    shipped = wheelhouse.find_llama_wheel(dest, house.llama_version)
    variants = llama_build.wheel_variants(shipped) if shipped is not None else ()
    here = cpu_features.features() if house.native else {}
    return LlamaBuild(
        version=house.llama_version,
        kind="portable" if variants else "native",
        cmake_args="",  # pip's cached build: its flags were never recorded
        gpu="unknown",
        cpu_variants=variants,
        built_on=tuple(name for name, present in here.items() if present),
    )


def _own_wheel(folder: Path) -> str:
    wheels = sorted(folder.glob("amalia_local-*.whl"))
    if not wheels:
        raise BundleError("bundle.pip_failed", command="wheel amalia-local")
    return wheels[-1].name


def _write_docs(root: Path, info: scripts.ScriptInfo) -> None:
    files = {
        "install.py": scripts.install_py(info),
        "install.sh": scripts.install_sh(info),
        "install.ps1": scripts.install_ps1(info),
        "install.cmd": scripts.install_cmd(info),
        "LEIA-ME.txt": scripts.leia_me(info),
        "README.txt": scripts.read_me(info),
    }
    for name, text in files.items():
        # CRLF for the files Windows users open in Notepad; LF for the shell script.
        newline = "\n" if name in ("install.sh", "install.py") else "\r\n"
        # Windows PowerShell 5 reads a script without a BOM as ANSI: "não" would break.
        encoding = "utf-8-sig" if name.endswith(".ps1") else "utf-8"
        with open(root / name, "w", encoding=encoding, newline=newline) as fh:
            fh.write(text)
    (root / "install.sh").chmod(0o755)


def _file_entries(root: Path, models: Sequence[ModelEntry]) -> Iterator[FileEntry]:
    known = {m.path: m for m in models}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        model = known.get(rel)
        if model is not None:
            yield FileEntry(rel, model.size, model.sha256)
        else:
            yield FileEntry(rel, path.stat().st_size, sha256_file(path))


def _fsync_tree(root: Path) -> None:
    """Flush every file before the rename: a bundle is often copied to a USB stick next."""
    for path in root.rglob("*"):
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
