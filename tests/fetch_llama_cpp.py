"""Gets llama.cpp's reference converter (``convert_hf_to_gguf.py``) that some tests run.

It ships in the llama-cpp-python source distribution of the version installed here; we
download that sdist with pip (PyPI is the one network the tests may use) and extract only
the converter, its ``conversion`` package and ``gguf-py``. ``AMALIA_TEST_LLAMA_CPP``
points at an existing ``vendor/llama.cpp`` folder; otherwise it is cached in
``tests/.models``. Run directly to fetch it ahead of the test run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from importlib.metadata import version
from pathlib import Path

VERSION = version("llama-cpp-python")
CACHE = Path(__file__).parent / ".models" / f"llama.cpp-{VERSION}"
_WANTED = ("convert_hf_to_gguf.py", "conversion/", "gguf-py/")


def ensure_llama_cpp() -> Path:
    """The folder holding ``convert_hf_to_gguf.py``, ``conversion/`` and ``gguf-py/``."""
    override = os.environ.get("AMALIA_TEST_LLAMA_CPP")
    if override:
        return Path(override)
    if (CACHE / "convert_hf_to_gguf.py").is_file():
        return CACHE
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                # this one package as source; ":all:" would also build its build
                # backend (scikit-build-core and what it needs) from source to read the
                # sdist's metadata: 4 minutes with pip 23, 10 s this way
                "--no-binary",
                "llama-cpp-python",
                "--quiet",
                f"llama-cpp-python=={VERSION}",
                "-d",
                tmp,
            ],
            check=True,
        )
        sdist = next(Path(tmp).glob("*.tar.gz"))
        prefix = f"{sdist.name.removesuffix('.tar.gz')}/vendor/llama.cpp/"
        staging = Path(tmp) / "llama.cpp"
        with tarfile.open(sdist) as archive:
            for member in archive.getmembers():
                rel = member.name.removeprefix(prefix)
                if member.name.startswith(prefix) and rel.startswith(_WANTED) and member.isfile():
                    _extract_file(archive, member, staging / rel)
        partial = CACHE.with_name(CACHE.name + ".part")
        shutil.rmtree(partial, ignore_errors=True)
        shutil.move(staging, partial)
        partial.replace(CACHE)
    return CACHE


def _extract_file(archive: tarfile.TarFile, member: tarfile.TarInfo, target: Path) -> None:
    """One regular file's bytes, and nothing else of the member (no mode, owner, links).

    By hand rather than ``extract(filter="data")``: that filter exists only from Python
    3.11.4 and 3.10.12, older than what Debian 12 ships (3.11.2).
    """
    if ".." in Path(member.name).parts or Path(member.name).is_absolute():
        raise RuntimeError(f"unsafe path in the sdist: {member.name}")
    target.parent.mkdir(parents=True, exist_ok=True)
    source = archive.extractfile(member)
    assert source is not None  # a regular file
    with source, open(target, "wb") as out:
        shutil.copyfileobj(source, out)


if __name__ == "__main__":
    print(ensure_llama_cpp())
