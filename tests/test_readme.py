"""The README's two copy-paste blocks, as a stranger reads them (CI runs the install block
for real in .ci/readme_install), and the floors CI installs (.ci/lowest_constraints.py)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _marked(name: str) -> list[str]:
    match = re.search(
        rf"<!-- ci:{name}:begin -->\n```bash\n(.*?)```\n<!-- ci:{name}:end -->", README, re.S
    )
    assert match, f"no {name} in README.md"
    return match.group(1).strip().splitlines()


def test_exactly_two_copy_paste_blocks():
    assert README.count("```bash") == 2
    assert _marked("install-block") and _marked("test-block")


def test_install_block_installs_from_the_checkout_and_ends_in_the_chat():
    lines = _marked("install-block")
    assert "pip install ." in lines
    # Not on the package index; the "amalia" package there is someone else's.
    assert not [line for line in lines if re.search(r"pip install (amalia|amalia-local)\b", line)]
    assert lines[-2:] == ["amalia pull amalia", "amalia"]


def test_lowest_constraints_pin_every_floor():
    out = subprocess.run(
        [sys.executable, str(ROOT / ".ci" / "lowest_constraints.py"), str(ROOT / "pyproject.toml")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    pins = dict(line.split("; ")[0].split("==") for line in out)
    assert pins["setuptools"] == "77.0.1"
    assert pins["llama-cpp-python"] == "0.3.36"
    assert pins["huggingface-hub"] == "1.4.1"
    assert pins["textual"] == "8.2.7"
    # requires-python is 3.11 (tomllib; httpx2 2.16, the tests' client, needs it too): no tomli
    assert "tomli" not in out
    assert pins["jinja2"] == "3.1.6" and pins["packaging"] == "24.2"
    # httpx2's httpcore2 needs h11 0.16, and openai before 1.55.3 breaks on httpx 0.28:
    # lower floors cannot be installed or do not work (the floors CI found both)
    assert pins["h11"] == "0.16" and pins["openai"] == "1.55.3"
