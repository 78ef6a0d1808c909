"""``amalia bundle create|verify`` and ``amalia import DIR``: air-gapped bundles.

The work is in :mod:`amalia_local.bundle`; this module only turns its events and
results into translated lines and progress bars, like the other services.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from amalia_local.bundle import create, importer
from amalia_local.bundle.manifest import WHEELS_DIR, Manifest
from amalia_local.bundle.verify import Report, verify
from amalia_local.progress import Progress
from amalia_local.runtime import Runtime
from amalia_local.services.pull import ProgressBridge
from amalia_local.store import ModelStore


class CliEvents:
    """What :func:`amalia_local.bundle.create` reports, shown on the terminal."""

    def __init__(self, runtime: Runtime, out: TextIO) -> None:
        self._runtime = runtime
        self._out = out

    def message(self, key: str, **params: object) -> None:
        self._out.write(self._runtime.t(key, **params) + "\n")
        self._out.flush()

    @contextmanager
    def bar(
        self, total: int | None, key: str, *, unit: str = "B", **params: object
    ) -> Iterator[Progress]:
        with Progress(
            total, unit=unit, label=self._runtime.t(key, **params), numbers=self._runtime.numbers
        ) as progress:
            yield progress

    def pull_progress(self, name: str) -> Callable[[int, int | None], None]:
        return _ClosingBridge(self._runtime.t("pull.downloading", name=name), self._runtime.numbers)


class _ClosingBridge(ProgressBridge):
    """The pull's bar, finished when the download reports its last byte."""

    def __call__(self, done: int, total: int | None) -> None:
        super().__call__(done, total)
        if total is not None and done >= total:
            self.close(ok=True)


def create_bundle(
    request: create.CreateRequest, store: ModelStore, runtime: Runtime, out: TextIO
) -> int:
    manifest = create.create(request, store, CliEvents(runtime, out))
    path = request.out_dir.expanduser().absolute()
    wheels = sum(1 for f in manifest.files if f.path.startswith(f"{WHEELS_DIR}/"))
    size = sum(f.size for f in manifest.files)
    out.write(
        runtime.t(
            "bundle.created",
            path=path,
            models=len(manifest.models),
            wheels=wheels,
            size=runtime.numbers.bytes(size),
        )
        + "\n"
    )
    return 0


def _verify_bar(runtime: Runtime) -> tuple[Callable[[int, int], None], Callable[[bool], None]]:
    """A progress callback for verify (hashing gigabytes takes a while) and its closer."""
    bar: list[Progress] = []

    def progress(done: int, total: int) -> None:
        if not bar:
            bar.append(
                Progress(
                    total, label=runtime.t("bundle.verifying"), numbers=runtime.numbers
                ).__enter__()
            )
        bar[0].update(done - bar[0].done)

    def close(ok: bool) -> None:
        if bar:
            bar[0].__exit__(None if ok else RuntimeError, None, None)

    return progress, close


def _problems(report: Report, runtime: Runtime, out: TextIO) -> None:
    for path in report.missing:
        out.write(runtime.t("bundle.missing", path=path) + "\n")
    for path in report.corrupted:
        out.write(runtime.t("bundle.corrupted", path=path) + "\n")


def verify_bundle(path: str, runtime: Runtime, out: TextIO) -> int:
    """Exit 0 only when every file is present, intact, and nothing extra is there."""
    progress, close = _verify_bar(runtime)
    ok = False
    try:
        report = verify(Path(path), progress)
        ok = True
    finally:
        close(ok)
    out.write(llama_build_line(report.manifest, runtime) + "\n")
    _problems(report, runtime, out)
    for extra in report.extra:
        out.write(runtime.t("bundle.extra", path=extra) + "\n")
    if report.intact:
        out.write(runtime.t("bundle.intact", files=report.checked) + "\n")
        return 0
    out.write(
        runtime.t(
            "bundle.not_intact",
            missing=len(report.missing),
            corrupted=len(report.corrupted),
            extra=len(report.extra),
        )
        + "\n"
    )
    return 1


def llama_build_line(manifest: Manifest, runtime: Runtime) -> str:
    """How the bundle's llama.cpp was compiled; a warning when it may not run elsewhere."""
    build = manifest.llama_build
    if build is None:
        return runtime.t("bundle.llama_unknown")
    if build.kind == "portable":
        names = ", ".join(build.cpu_variants)
        return runtime.t(
            "bundle.llama_portable", version=build.version, count=len(build.cpu_variants),
            names=names,
        )  # fmt: skip
    if build.kind == "source":
        return runtime.t("bundle.llama_source", version=build.version)
    features = ", ".join(build.built_on) or "?"
    return runtime.t("bundle.llama_native", version=build.version, features=features)


def import_bundle(path: str, store: ModelStore, runtime: Runtime, out: TextIO) -> int:
    """Verify, then register every model; a damaged bundle imports nothing."""
    root = Path(path)
    progress, close = _verify_bar(runtime)
    ok = False
    try:
        report = verify(root, progress)
        ok = True
    finally:
        close(ok)
    if report.damaged:
        _problems(report, runtime, out)
        out.flush()
    importer.check_report(report, root)
    if report.extra:
        out.write(runtime.t("bundle.extra_ignored", count=len(report.extra)) + "\n")
    for model in importer.import_models(root, report, store):
        if model.renamed_from:
            out.write(
                runtime.t("bundle.imported_renamed", old=model.renamed_from, name=model.name) + "\n"
            )
        key = f"bundle.imported_{model.how}"
        out.write(
            runtime.t(key, name=model.name, size=runtime.numbers.bytes(model.size), path=model.path)
            + "\n"
        )
    return 0
