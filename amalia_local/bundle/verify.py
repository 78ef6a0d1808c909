"""``amalia bundle verify DIR``: every file against the manifest, nothing taken on trust.

A bundle travels on USB sticks between machines, where copies get cut short and bits
rot; verifying before installing turns "llama.cpp crashed on a truncated model" into
"models/x.gguf is corrupted". Sizes are compared first (cheap, catches truncation),
then every byte is hashed.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from amalia_local.bundle import manifest as manifest_module
from amalia_local.bundle.manifest import MANIFEST_NAME, Manifest, safe_path
from amalia_local.filecopy import sha256_file

# Files operating systems drop on removable drives by themselves: never "extra".
_OS_LITTER = {".DS_Store", "Thumbs.db", "desktop.ini", ".localized"}
_OS_LITTER_DIRS = {".Trashes", ".Spotlight-V100", ".fseventsd", "System Volume Information"}


@dataclass(frozen=True)
class Report:
    """The outcome of a verification; ``intact`` only when nothing is wrong."""

    manifest: Manifest
    missing: tuple[str, ...]
    corrupted: tuple[str, ...]
    extra: tuple[str, ...]
    checked: int  # files whose bytes matched

    @property
    def damaged(self) -> bool:
        """Missing or corrupted files: the bundle cannot be installed as it is."""
        return bool(self.missing or self.corrupted)

    @property
    def intact(self) -> bool:
        return not (self.damaged or self.extra)


def verify(
    root: Path,
    progress: Callable[[int, int], None] | None = None,
    skip: Callable[[str], bool] | None = None,
) -> Report:
    """Check ``root`` against its manifest; ``progress(done_bytes, total_bytes)``.

    ``skip(path)`` leaves files out (and then extra files are not looked for): the
    install scripts check the wheels before pip reads them and leave the models, which
    are much larger, to ``amalia import``, so nothing is hashed twice.
    """
    manifest = manifest_module.load(root)
    files = [f for f in manifest.files if skip is None or not skip(f.path)]
    total = sum(f.size for f in files)
    done = 0

    def advance(n: int) -> None:
        nonlocal done
        done += n
        if progress is not None:
            progress(done, total)

    if progress is not None:
        progress(0, total)
    missing: list[str] = []
    corrupted: list[str] = []
    checked = 0
    for entry in files:
        path = safe_path(root, entry.path)
        if not path.is_file():
            missing.append(entry.path)
            advance(entry.size)
            continue
        size = path.stat().st_size
        if size != entry.size:
            corrupted.append(entry.path)
            advance(entry.size)
            continue
        before = done
        if sha256_file(path, advance) != entry.sha256:
            corrupted.append(entry.path)
        else:
            checked += 1
        advance(entry.size - (done - before))
    listed = {entry.path for entry in manifest.files}
    extra = [] if skip else [p for p in _walk(root) if p not in listed and p != MANIFEST_NAME]
    return Report(manifest, tuple(missing), tuple(corrupted), tuple(sorted(extra)), checked)


def _walk(root: Path) -> list[str]:
    """Every file under ``root`` as a relative POSIX path; links are listed, not followed."""
    found = []
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs[:] = [d for d in dirs if d not in _OS_LITTER_DIRS]
        rel = Path(folder).relative_to(root)
        for name in files + [d for d in dirs if (Path(folder) / d).is_symlink()]:
            if name in _OS_LITTER or name.startswith("._"):
                continue
            found.append((rel / name).as_posix())
    return found
