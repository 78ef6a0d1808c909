"""``manifest.json``: what a bundle holds, and the only list of paths import trusts.

The manifest is read on air-gapped machines from a USB stick that anyone could have
edited, so loading it is strict: every field is type-checked and every path must be a
plain relative POSIX path that stays inside the bundle (:func:`safe_path`). A manifest
that breaks a rule is refused as a whole, before any file it names is opened.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from amalia_local.bundle.errors import ManifestError, NotABundleError, UnsafePathError

MANIFEST_NAME = "manifest.json"
SCHEMA = 1
KIND = "amalia-local-bundle"
MODELS_DIR = "models"
WHEELS_DIR = "wheels"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
# Windows would read these as a drive or a stream; they have no business in a bundle.
_FORBIDDEN_CHARS = set('\\:*?"<>|\0')


@dataclass(frozen=True)
class FileEntry:
    """One file of the bundle: its relative path, size and sha256."""

    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class ModelEntry:
    """One model: the store name to register it under and where it came from."""

    name: str
    path: str  # relative, also listed in Manifest.files
    sha256: str
    size: int
    source: str  # "hub" (pulled: registered as on the connected machine) or "import"
    repo: str | None = None
    filename: str | None = None
    revision: str | None = None
    commit: str | None = None
    catalogue: dict[str, Any] | None = None  # the catalogue entry, for people and tools


@dataclass(frozen=True)
class Target:
    """Where the wheelhouse installs: a pip platform tag and a Python ``X.Y``."""

    platform: str
    python: str
    native: bool  # same platform and Python as the machine that made the bundle
    llama_cpp_python: str  # version in the wheelhouse
    llama_cpp_from_source: bool  # only its sdist is included: needs a compiler and CMake


@dataclass(frozen=True)
class LlamaBuild:
    """How the bundle's llama.cpp was compiled, which decides the CPUs it runs on."""

    version: str
    kind: str  # "portable" (every CPU variant), "native" (this machine's CPU), "source"
    cmake_args: str
    gpu: str  # "none" or "cuda"
    cpu_variants: tuple[str, ...]  # portable: the variant libraries it carries
    built_on: tuple[str, ...]  # CPU features of the machine that compiled it

    @property
    def requires(self) -> tuple[str, ...]:
        """CPU features a target needs: a native build may use all of its builder's."""
        return self.built_on if self.kind == "native" else ()


LLAMA_BUILD_KINDS = ("portable", "native", "source")


@dataclass(frozen=True)
class Manifest:
    created_at: str
    amalia_local: str
    target: Target
    models: tuple[ModelEntry, ...]
    files: tuple[FileEntry, ...]
    created_with: dict[str, str] = field(default_factory=dict)  # python, pip, platform
    llama_build: LlamaBuild | None = None  # None: made before it was recorded
    schema: int = SCHEMA
    kind: str = KIND

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["models"] = [asdict(m) for m in self.models]
        data["files"] = [asdict(f) for f in self.files]
        if self.llama_build is None:
            del data["llama_build"]
        return data

    def write(self, root: Path) -> Path:
        path = root / MANIFEST_NAME
        text = json.dumps(self.to_json(), ensure_ascii=False, indent=2) + "\n"
        path.write_text(text, encoding="utf-8")
        return path


# --- paths ---------------------------------------------------------------------------------
def safe_path(root: Path, relative: object) -> Path:
    """The real location of ``relative`` inside ``root``, or UnsafePathError.

    Accepted: ``models/a.gguf``-style POSIX paths. Refused: absolute paths, drive
    letters, backslashes, ``..`` or ``.`` components, empty components, and any path
    whose resolved location (after symlinks) is outside ``root``.
    """
    if not isinstance(relative, str) or not relative:
        raise UnsafePathError("bundle.unsafe_path", path=str(relative))
    if not _plain_relative(relative) or relative == MANIFEST_NAME:
        raise UnsafePathError("bundle.unsafe_path", path=relative)
    base = root.resolve()
    target = base.joinpath(*relative.split("/"))
    resolved = target.resolve()
    if resolved != target and base not in resolved.parents:
        raise UnsafePathError("bundle.unsafe_path", path=relative)
    return target


# --- loading -------------------------------------------------------------------------------
def load(root: Path) -> Manifest:
    """Read and validate ``root/manifest.json`` (paths included, files not yet read)."""
    path = root / MANIFEST_NAME
    if not root.is_dir():
        raise NotABundleError("bundle.not_a_folder", path=root)
    if path.is_symlink() or not path.is_file():
        raise NotABundleError("bundle.no_manifest", path=root)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ManifestError("bundle.manifest_invalid", path=path, reason=str(exc)) from exc
    try:
        manifest = _parse(raw)
    except (KeyError, TypeError, ValueError) as exc:
        reason = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
        raise ManifestError("bundle.manifest_invalid", path=path, reason=reason) from exc
    for entry in manifest.files:
        safe_path(root, entry.path)
    listed = {f.path for f in manifest.files}
    for model in manifest.models:
        safe_path(root, model.path)
        _check_hub_fields(model)
        if model.path not in listed:
            raise ManifestError(
                "bundle.manifest_invalid", path=path, reason=f"{model.path} is not in files"
            )
    return manifest


_REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
_REVISION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")


def _check_hub_fields(model: ModelEntry) -> None:
    """Repo, revision, file and commit become path parts in the Hugging Face cache on
    import: anything that could climb out of it is refused like an unsafe path."""
    checks = [
        (model.repo, lambda v: bool(_REPO.match(v)) and ".." not in v),
        (model.revision, lambda v: bool(_REVISION.match(v)) and ".." not in v),
        (model.commit, lambda v: bool(_COMMIT.match(v))),
        (model.filename, _plain_relative),
    ]
    for value, ok in checks:
        if value is not None and not ok(value):
            raise UnsafePathError("bundle.unsafe_path", path=value)


def _plain_relative(value: str) -> bool:
    parts = value.split("/")
    return not (
        PurePosixPath(value).is_absolute()
        or any(part in ("", ".", "..") for part in parts)
        or any(ch in _FORBIDDEN_CHARS for ch in value)
    )


def _expect(value: Any, kind: type | tuple[type, ...], what: str) -> Any:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise TypeError(f"{what}: wrong type")
    return value


def _optional_str(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    return None if value is None else _expect(value, str, key)


def _sha(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _SHA256.match(value):
        raise ValueError(f"{what}: not a sha256")
    return value


def _size(value: Any, what: str) -> int:
    if _expect(value, int, what) < 0:
        raise ValueError(f"{what}: negative size")
    return value


def _parse(raw: Any) -> Manifest:
    _expect(raw, dict, "manifest")
    if raw.get("kind") != KIND:
        raise ValueError(f"kind is not {KIND}")
    if raw.get("schema") != SCHEMA:
        raise ValueError(f"schema {raw.get('schema')!r} is not supported (expected {SCHEMA})")
    files = []
    seen: set[str] = set()
    for item in _expect(raw["files"], list, "files"):
        _expect(item, dict, "files[]")
        entry = FileEntry(
            path=_expect(item["path"], str, "path"),
            size=_size(item["size"], item["path"]),
            sha256=_sha(item["sha256"], item["path"]),
        )
        key = os.path.normcase(entry.path)
        if key in seen:
            raise ValueError(f"{entry.path} is listed twice")
        seen.add(key)
        files.append(entry)
    models = []
    for item in _expect(raw["models"], list, "models"):
        _expect(item, dict, "models[]")
        catalogue = item.get("catalogue")
        models.append(
            ModelEntry(
                name=_expect(item["name"], str, "name"),
                path=_expect(item["path"], str, "path"),
                sha256=_sha(item["sha256"], item["name"]),
                size=_size(item["size"], item["name"]),
                source=_expect(item["source"], str, "source"),
                repo=_optional_str(item, "repo"),
                filename=_optional_str(item, "filename"),
                revision=_optional_str(item, "revision"),
                commit=_optional_str(item, "commit"),
                catalogue=None if catalogue is None else _expect(catalogue, dict, "catalogue"),
            )
        )
    target = _expect(raw["target"], dict, "target")
    created_with = _expect(raw.get("created_with", {}), dict, "created_with")
    return Manifest(
        created_at=_expect(raw["created_at"], str, "created_at"),
        amalia_local=_expect(raw["amalia_local"], str, "amalia_local"),
        target=Target(
            platform=_expect(target["platform"], str, "platform"),
            python=_expect(target["python"], str, "python"),
            native=_expect(target["native"], bool, "native"),
            llama_cpp_python=_expect(target["llama_cpp_python"], str, "llama_cpp_python"),
            llama_cpp_from_source=_expect(
                target["llama_cpp_from_source"], bool, "llama_cpp_from_source"
            ),
        ),
        models=tuple(models),
        files=tuple(files),
        created_with={str(k): str(v) for k, v in created_with.items()},
        llama_build=_llama_build(raw.get("llama_build")),
    )


def _strings(value: Any, what: str) -> tuple[str, ...]:
    return tuple(_expect(v, str, what) for v in _expect(value, list, what))


def _llama_build(raw: Any) -> LlamaBuild | None:
    if raw is None:
        return None
    _expect(raw, dict, "llama_build")
    kind = _expect(raw["kind"], str, "llama_build.kind")
    if kind not in LLAMA_BUILD_KINDS:
        raise ValueError(f"llama_build.kind: unknown {kind!r}")
    return LlamaBuild(
        version=_expect(raw["version"], str, "llama_build.version"),
        kind=kind,
        cmake_args=_expect(raw["cmake_args"], str, "llama_build.cmake_args"),
        gpu=_expect(raw["gpu"], str, "llama_build.gpu"),
        cpu_variants=_strings(raw["cpu_variants"], "llama_build.cpu_variants"),
        built_on=_strings(raw["built_on"], "llama_build.built_on"),
    )
