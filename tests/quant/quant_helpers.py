"""Fixtures for quant/: tiny quantizable models, a short eval text, the CLI runner."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from quant_samples import write_quantizable_gguf

ROOT = Path(__file__).resolve().parents[2]
# A short slice of the real evaluation text keeps each evaluation to a few windows.
EVAL_TEXT = (ROOT / "quant" / "data" / "eval_pt.txt").read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def quant_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_quantizable_gguf(tmp_path_factory.mktemp("quant") / "tiny-F16.gguf")


@pytest.fixture(scope="session")
def short_eval(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About two 512-token windows of the evaluation text for the byte-level tiny vocab."""
    path = tmp_path_factory.mktemp("eval") / "eval_short.txt"
    path.write_text(EVAL_TEXT[:900], encoding="utf-8")
    return path


@pytest.fixture
def quant_cli(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run ``python -m quant`` from the repository root, as a maintainer would."""

    def _run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        env = {
            "PATH": "/usr/bin:/bin",
            "AMALIA_HOME": str(tmp_path / "home"),
            "LANG": "C.UTF-8",
            "PYTHONIOENCODING": "utf-8",
        }
        return subprocess.run(
            [sys.executable, "-m", "quant", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            encoding="utf-8",
            env=env,
            timeout=timeout,
        )

    return _run
