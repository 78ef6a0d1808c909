"""The ``wheels/`` folder: amalia-local and every dependency, for one platform and Python.

pip does all the work, in a subprocess, so its resolver, caches, index settings and
platform tags are the real ones (no reimplementation that drifts). Two cases:

* **Same platform and Python as this machine**: ``pip wheel`` of amalia-local's wheel.
  pip resolves everything and turns any source-only package into a wheel here — for
  llama-cpp-python (no wheels on PyPI) that is the wheel pip already built when it was
  installed here, straight from pip's wheel cache, or a fresh build (minutes).
* **Another platform or Python**: ``pip download --only-binary=:all: --platform ...
  --python-version ...``. llama-cpp-python has no binary wheels on PyPI, which would make
  that resolution fail, so a *placeholder* wheel with the real package's name, version
  and dependencies (read from its sdist) is offered on a temporary find-links folder:
  pip resolves every other dependency for the target, then the placeholder is replaced
  by the sdist and its build requirements (scikit-build-core, and cmake/ninja wheels
  when PyPI has them for the target). A real wheel for the target, when one of the
  sources has it, wins over the placeholder (its tags are more specific) and is kept.

The amalia-local wheel itself is built from the checkout the running code was installed
from (an editable install records it in ``direct_url.json``, PEP 610), so a bundle
always carries the code that made it; an installation from a wheel takes
``amalia-local==<this version>`` from the index instead.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from email.parser import Parser
from pathlib import Path
from typing import TextIO
from urllib.parse import unquote, urlparse

from amalia_local.bundle.errors import WheelhouseError
from amalia_local.filecopy import sha256_file

LLAMA = "llama-cpp-python"
_PYTHON = re.compile(r"^3\.\d{1,2}$")
_PLATFORM = re.compile(r"^[a-z0-9][a-z0-9_.]*$")
_PLACEHOLDER_TAG = "py3-none-any"


@dataclass(frozen=True)
class TargetRequest:
    """What the user asked for; ``None`` means "like this machine"."""

    platform: str | None = None
    python: str | None = None


@dataclass(frozen=True)
class Wheelhouse:
    platform: str
    python: str
    native: bool
    llama_version: str
    llama_from_source: bool


def this_python() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def this_platforms() -> list[str]:
    """Platform tags this interpreter accepts, most specific first (pip's own order)."""
    try:
        from packaging.tags import sys_tags
    except ImportError:  # packaging comes with huggingface_hub; be safe anyway
        import sysconfig

        return [sysconfig.get_platform().replace("-", "_").replace(".", "_")]
    return list(dict.fromkeys(tag.platform for tag in sys_tags()))


def check_target(request: TargetRequest) -> None:
    """Refuse malformed ``--platform`` / ``--python`` before anything is downloaded."""
    from amalia_local.errors import UsageError

    if request.python is not None and not _PYTHON.match(request.python):
        raise UsageError("bundle.bad_python", python=request.python)
    if request.platform is not None and not _PLATFORM.match(request.platform):
        raise UsageError("bundle.bad_platform", platform=request.platform)


def is_native(request: TargetRequest) -> bool:
    python_ok = request.python in (None, this_python())
    return python_ok and (request.platform is None or request.platform in this_platforms())


class Pip:
    """Runs ``python -m pip`` for this interpreter; output shown live or kept for errors."""

    def __init__(self, sources: Sequence[str], log: TextIO | None, verbose: bool) -> None:
        self.sources = list(sources)  # ["--no-index", "--find-links", DIR] or []
        self._log = log
        self._verbose = verbose

    def __call__(self, *args: str, check: bool = True) -> bool:
        command = [sys.executable, "-m", "pip", *args]
        env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}
        if self._verbose:
            returncode = subprocess.run(command, env=env, stdout=sys.stderr, check=False).returncode
            output = ""
        else:
            done = subprocess.run(
                command,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                encoding="utf-8",
                errors="replace",
                check=False,
            )
            returncode, output = done.returncode, done.stdout
        if returncode != 0 and check:
            if output and self._log is not None:
                self._log.write(output)
                self._log.flush()
            raise WheelhouseError("bundle.pip_failed", command=" ".join(args[:2]))
        return returncode == 0


def llama_version() -> str:
    """The llama-cpp-python this amalia-local runs with: the bundle ships the same one."""
    return importlib.metadata.version(LLAMA)


def source_checkout() -> Path | None:
    """The folder amalia-local was installed from, for editable / local-folder installs."""
    try:
        text = importlib.metadata.distribution("amalia-local").read_text("direct_url.json")
    except importlib.metadata.PackageNotFoundError:
        return None
    if not text:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    url = urlparse(str(data.get("url", "")))
    if url.scheme != "file" or "dir_info" not in data:
        return None
    path = Path(unquote(url.path))
    return path if (path / "pyproject.toml").is_file() else None


def amalia_requirement(pip: Pip, work: Path, version: str) -> str:
    """A wheel file of this amalia-local, or ``amalia-local==version`` for the index."""
    checkout = source_checkout()
    if checkout is None:
        return f"amalia-local=={version}"
    out = work / "own"
    out.mkdir(parents=True, exist_ok=True)
    args = ["wheel", "--no-deps", "--wheel-dir", str(out)]
    if _setuptools_usable():
        args.append("--no-build-isolation")  # no index needed: works offline too
    else:
        args += pip.sources
    pip(*args, str(checkout))
    wheels = sorted(out.glob("amalia_local-*.whl"))
    if not wheels:
        raise WheelhouseError("bundle.pip_failed", command="wheel amalia-local")
    return str(wheels[-1])


def _setuptools_usable() -> bool:
    try:
        version = importlib.metadata.version("setuptools")
    except importlib.metadata.PackageNotFoundError:
        return False
    major = re.match(r"\d+", version)
    # pyproject.toml's build floor: the PEP 639 license expression needs setuptools 77.
    return major is not None and int(major.group()) >= 77


def build(
    dest: Path,
    work: Path,
    request: TargetRequest,
    pip: Pip,
    amalia_version: str,
    llama_wheel: Path | None = None,
) -> Wheelhouse:
    """Fill ``dest`` with every wheel (or sdist) the target needs to install amalia-local.

    ``llama_wheel`` is the llama-cpp-python wheel to ship instead of whatever pip would
    pick (a portable build for this machine, or one cross-compiled for the target).
    """
    dest.mkdir(parents=True, exist_ok=True)
    version = llama_version()
    constraints = work / "constraints.txt"
    constraints.write_text(f"{LLAMA}=={version}\n", encoding="utf-8")
    requirement = amalia_requirement(pip, work, amalia_version)
    python = request.python or this_python()
    if is_native(request):
        pip(
            "wheel",
            "--wheel-dir",
            str(dest),
            *pip.sources,
            "--constraint",
            str(constraints),
            requirement,
            *([str(llama_wheel)] if llama_wheel is not None else []),
        )
        _check_shipped(dest, version, llama_wheel, "wheel")
        _add_pip(dest, pip, [])
        platform = request.platform or this_platforms()[0]
        return Wheelhouse(platform, python, True, version, llama_from_source=False)
    platform = request.platform or this_platforms()[0]
    _add_pip(dest, pip, _target_flags(platform, python))
    if llama_wheel is not None:
        flags = [*_target_flags(platform, python), "--constraint", str(constraints)]
        _download_with_wheel(dest, work, pip, flags, requirement, llama_wheel)
        _check_shipped(dest, version, llama_wheel, "download")
        _complete_for_target(dest, platform, python, pip, flags)
        return Wheelhouse(platform, python, False, version, llama_from_source=False)
    from_source = _download_foreign(
        dest, work, platform, python, pip, constraints, requirement, version
    )
    return Wheelhouse(platform, python, False, version, llama_from_source=from_source)


def _add_pip(dest: Path, pip: Pip, flags: Sequence[str]) -> None:
    """pip's own wheel: the bundle's installer runs it from the wheel file, so a Python
    without pip (the embeddable Windows one, Debian's without python3-venv) installs too."""
    pip("download", "--no-deps", "--dest", str(dest), *flags, *pip.sources, "pip")


def platform_tags(platform: str) -> list[str]:
    """``platform`` and the older tags a machine with it also runs, newest first.

    pip expands ``macosx_*`` and the legacy ``manylinux2014`` by itself but takes
    ``manylinux_2_28_x86_64`` literally, which would miss the many wheels tagged only
    ``manylinux_2_17`` (numpy for Python 3.10, say): glibc is backwards compatible,
    so every older manylinux (and musllinux) level is offered too.
    """
    found = re.match(r"^(manylinux|musllinux)_(\d+)_(\d+)_(.+)$", platform)
    if not found:
        return [platform]
    family, major, minor, arch = (
        found.group(1),
        int(found.group(2)),
        int(found.group(3)),
        found.group(4),
    )
    lowest = 5 if family == "manylinux" else 1
    tags = [f"{family}_{major}_{m}_{arch}" for m in range(minor, lowest - 1, -1)]
    if family == "manylinux" and major == 2:
        legacy = [(17, "manylinux2014"), (12, "manylinux2010"), (5, "manylinux1")]
        for level, name in legacy:
            if minor >= level and (level == 17 or arch in ("x86_64", "i686")):
                tags.append(f"{name}_{arch}")
    return tags


def _target_flags(platform: str, python: str) -> list[str]:
    abi = "cp" + python.replace(".", "")
    return [
        "--only-binary=:all:",
        *[flag for tag in platform_tags(platform) for flag in ("--platform", tag)],
        "--python-version",
        python,
        "--implementation",
        "cp",
        "--abi",
        abi,
    ]


def _check_shipped(dest: Path, version: str, llama_wheel: Path | None, step: str) -> None:
    """The llama-cpp-python pip put in ``dest`` is a wheel, and the one we built if any:
    pip prefers an index's wheel of the same version over a local one it was offered."""
    shipped = _find(dest, LLAMA, version, (".whl",))
    if shipped is None:
        raise WheelhouseError("bundle.pip_failed", command=f"{step} {LLAMA}")
    if llama_wheel is not None and sha256_file(shipped) != sha256_file(llama_wheel):
        raise WheelhouseError("bundle.pip_failed", command=f"{step} {LLAMA} (not the one built)")


def _download_with_wheel(
    dest: Path, work: Path, pip: Pip, flags: Sequence[str], requirement: str, llama_wheel: Path
) -> None:
    """``pip download`` for another target, offered the llama-cpp-python wheel built for it."""
    offered = work / "offered"
    offered.mkdir(parents=True, exist_ok=True)
    shutil.copy2(llama_wheel, offered / llama_wheel.name)
    pip(
        "download",
        "--dest",
        str(dest),
        *flags,
        *pip.sources,
        "--find-links",
        str(offered),
        requirement,
    )


def _download_foreign(
    dest: Path,
    work: Path,
    platform: str,
    python: str,
    pip: Pip,
    constraints: Path,
    requirement: str,
    version: str,
) -> bool:
    """``pip download`` for another target; returns True when llama-cpp-python is an sdist."""
    sdists = work / "sdist"
    pip(
        "download",
        "--no-deps",
        # this package as source, not its build backend: ":all:" built scikit-build-core
        # and its own build requirements from source just to read the sdist's metadata
        f"--no-binary={LLAMA}",
        "--dest",
        str(sdists),
        *pip.sources,
        f"{LLAMA}=={version}",
    )
    sdist = _find(sdists, LLAMA, version, (".tar.gz", ".zip"))
    if sdist is None:
        raise WheelhouseError("bundle.pip_failed", command=f"download {LLAMA}")
    requires, build_requires = _sdist_requirements(sdist)
    placeholders = work / "placeholder"
    placeholder = _write_placeholder(placeholders, version, requires)
    flags = _target_flags(platform, python)
    pip(
        "download",
        "--dest",
        str(dest),
        *flags,
        *pip.sources,
        "--find-links",
        str(placeholders),
        "--constraint",
        str(constraints),
        requirement,
    )
    got = dest / placeholder.name
    real_wheel = not got.is_file() or sha256_file(got) != sha256_file(placeholder)
    if real_wheel:  # one of the sources has a wheel for the target: no compiler needed
        _complete_for_target(
            dest, platform, python, pip, [*flags, "--constraint", str(constraints)]
        )
        return False
    got.unlink()
    shutil.copy2(sdist, dest / sdist.name)
    if build_requires:
        pip("download", "--dest", str(dest), *flags, *pip.sources, *build_requires)
    # Best effort: with these the target needs only a C/C++ compiler, not CMake itself.
    pip("download", "--dest", str(dest), *flags, *pip.sources, "cmake", "ninja", check=False)
    _complete_for_target(dest, platform, python, pip, [*flags, "--constraint", str(constraints)])
    return True


def target_environment(platform: str, python: str) -> dict[str, str]:
    """PEP 508 marker values of the target, derived from its platform tag.

    ``pip download --platform`` picks wheels by tag but evaluates dependency markers
    such as ``colorama; platform_system == "Windows"`` on the machine it runs on, so
    they are evaluated again here for the target (see :func:`_complete_for_target`).
    """
    if platform.startswith("win"):
        names = ("win32", "Windows", "nt")
        machine = {"win32": "x86", "win_arm64": "ARM64"}.get(platform, "AMD64")
    elif platform.startswith("macosx"):
        names = ("darwin", "Darwin", "posix")
        machine = platform.rsplit("_", 1)[-1]
    else:
        names = ("linux", "Linux", "posix")
        found = re.search(r"(x86_64|aarch64|i686|armv7l|ppc64le|s390x|riscv64)$", platform)
        machine = found.group(1) if found else ""
    sys_platform, system, os_name = names
    return {
        "implementation_name": "cpython",
        "implementation_version": f"{python}.0",
        "os_name": os_name,
        "platform_machine": machine,
        "platform_python_implementation": "CPython",
        "platform_release": "",
        "platform_system": system,
        "platform_version": "",
        "python_full_version": f"{python}.0",
        "python_version": python,
        "sys_platform": sys_platform,
        "extra": "",
    }


def _wheel_requires(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            parts = name.split("/")
            if len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1] == "METADATA":
                text = archive.read(name).decode("utf-8", errors="replace")
                return Parser().parsestr(text).get_all("Requires-Dist") or []
    return []


def _complete_for_target(
    dest: Path, platform: str, python: str, pip: Pip, flags: Sequence[str]
) -> None:
    """Download what the target's markers require but pip skipped on this machine."""
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    environment = target_environment(platform, python)
    for _ in range(10):  # each round can add packages with requirements of their own
        have = {canonicalize_name(_project_of(p)) for p in dest.iterdir()}
        missing: dict[str, str] = {}
        for wheel in sorted(dest.glob("*.whl")):
            for text in _wheel_requires(wheel):
                try:
                    requirement = Requirement(text)
                except InvalidRequirement:
                    continue
                if requirement.marker is not None and not requirement.marker.evaluate(environment):
                    continue
                name = canonicalize_name(requirement.name)
                if name not in have:
                    requirement.marker = None
                    missing.setdefault(name, str(requirement))
        if not missing:
            return
        pip("download", "--dest", str(dest), *flags, *pip.sources, *missing.values())
    raise WheelhouseError("bundle.pip_failed", command="download (target markers)")


def _project_of(path: Path) -> str:
    """``numpy-2.4.6-cp311-....whl`` -> ``numpy``; ``llama_cpp_python-0.3.36.tar.gz`` too."""
    name = path.name
    for suffix in (".whl", ".tar.gz", ".zip"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return re.split(r"-(?=\d)", name, maxsplit=1)[0]


def find_llama_wheel(folder: Path, version: str) -> Path | None:
    return _find(folder, LLAMA, version, (".whl",))


def _find(folder: Path, project: str, version: str, suffixes: tuple[str, ...]) -> Path | None:
    """The file of ``project==version`` in ``folder`` (wheel or sdist, either spelling)."""
    prefixes = {f"{p}-{version}" for p in (re.sub(r"[-_.]+", "_", project), project)}
    for path in sorted(folder.glob("*")) if folder.is_dir() else []:
        name = path.name.lower()
        for prefix in prefixes:
            rest = name[len(prefix) :] if name.startswith(prefix) else None
            if rest is not None and rest[:1] in ("-", ".") and name.endswith(suffixes):
                return path
    return None


def _sdist_requirements(sdist: Path) -> tuple[list[str], list[str]]:
    """Requires-Dist from PKG-INFO and build-system.requires from pyproject.toml."""
    pkg_info = pyproject = ""
    with tarfile.open(sdist) as tar:
        for member in tar.getmembers():
            parts = member.name.split("/")
            if len(parts) == 2 and parts[1] == "PKG-INFO":
                pkg_info = _read_member(tar, member)
            elif len(parts) == 2 and parts[1] == "pyproject.toml":
                pyproject = _read_member(tar, member)
    message = Parser().parsestr(pkg_info)
    requires = [r for r in message.get_all("Requires-Dist") or [] if "extra ==" not in r]
    build_requires: list[str] = []
    if pyproject:
        import tomllib

        data = tomllib.loads(pyproject)
        build_requires = list(data.get("build-system", {}).get("requires", []))
    return requires, build_requires


def _read_member(tar: tarfile.TarFile, member: tarfile.TarInfo) -> str:
    handle = tar.extractfile(member)
    return handle.read().decode("utf-8") if handle is not None else ""


def _write_placeholder(folder: Path, version: str, requires: list[str]) -> Path:
    """A minimal valid wheel carrying only metadata: lets pip resolve for the target."""
    folder.mkdir(parents=True, exist_ok=True)
    dist = f"llama_cpp_python-{version}"
    path = folder / f"{dist}-{_PLACEHOLDER_TAG}.whl"
    info = f"{dist}.dist-info"
    metadata = "Metadata-Version: 2.1\nName: llama-cpp-python\nVersion: " + version + "\n"
    metadata += "".join(f"Requires-Dist: {r}\n" for r in requires)
    files = {
        f"{info}/METADATA": metadata,
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: amalia-local\n"
        f"Root-Is-Purelib: true\nTag: {_PLACEHOLDER_TAG}\n",
    }
    record = []
    with zipfile.ZipFile(path, "w") as wheel:
        for name, text in files.items():
            data = text.encode("utf-8")
            wheel.writestr(name, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            record.append(f"{name},sha256={digest.decode()},{len(data)}")
        record.append(f"{info}/RECORD,,")
        wheel.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    return path
