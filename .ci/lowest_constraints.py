"""Print a pip constraints file pinning every declared dependency to its floor.

CI's second job installs with it (``pip install -c``) so the lowest versions that
pyproject.toml promises are the versions actually tested. Generated, never hand-written,
so a floor raised or lowered in pyproject.toml is what CI tests next time.

Usage: python .ci/lowest_constraints.py [pyproject.toml] > constraints.txt
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

_FLOOR = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*(.*?)\s*$")


def floors(requirements: list[str]) -> list[str]:
    """``name>=X[,<Y][; marker]`` -> ``name==X[; marker]``; requirements without a floor
    are left out (nothing to pin)."""
    pins = []
    for requirement in requirements:
        spec, _, marker = requirement.partition(";")
        match = _FLOOR.match(spec)
        if match is None:
            raise SystemExit(f"lowest_constraints: cannot parse {requirement!r}")
        name, versions = match.groups()
        lowest = [v.strip()[2:].strip() for v in versions.split(",") if v.strip()[:2] == ">="]
        if not lowest:
            continue
        pin = f"{name}=={lowest[0]}"
        pins.append(f"{pin}; {marker.strip()}" if marker.strip() else pin)
    return pins


def main(argv: list[str]) -> int:
    path = Path(argv[1] if len(argv) > 1 else "pyproject.toml")
    pyproject = tomllib.loads(path.read_text(encoding="utf-8"))
    project = pyproject["project"]
    # The build floor too (setuptools): pip applies PIP_CONSTRAINT to the isolated
    # build environment as well, so the package is built with the lowest setuptools.
    requirements = list(pyproject.get("build-system", {}).get("requires", []))
    requirements += project.get("dependencies", [])
    for extra in project.get("optional-dependencies", {}).values():
        requirements.extend(extra)
    print("\n".join(floors(requirements)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
