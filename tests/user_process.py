"""A process started as a user starts it: their environment, their folder.

Tests that run ``amalia``, ``python -m amalia_local``, a bundle's ``install.sh`` or an
installed venv go through here, for two reasons that once hid a broken release:

- **The working directory is the user's home, never the checkout.** ``python -m`` puts
  the working directory first on ``sys.path``; started from the repository, a
  subprocess imports the checkout's ``amalia_local`` instead of the installed one, and
  a bundle whose wheel could not even load its messages passed every test.
- **The environment is a user's, not this machine's.** Only ``PATH`` (and, for Windows
  and temporary files, ``SYSTEMROOT`` and ``TMPDIR``) comes from the test process;
  ``HOME`` is the test's own empty folder, the locale is ``C.UTF-8``; no
  ``PYTHONUNBUFFERED``, ``PIP_*``, ``HF_*`` or ``AMALIA_*`` from whoever runs the suite.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

KEPT = ("PATH", "TMPDIR", "SYSTEMROOT")


def user_env(home: Path, **extra: str) -> dict[str, str]:
    """A user's environment with ``home`` as HOME (created), plus ``extra``."""
    home.mkdir(parents=True, exist_ok=True)
    env = {name: os.environ[name] for name in KEPT if name in os.environ}
    env.update(HOME=str(home), LANG="C.UTF-8")
    env.update(extra)
    return env


def user_cwd(env: dict[str, str]) -> str:
    """Where the user's shell is: their home (outside the repository by construction)."""
    return env["HOME"]


def run_as_user(
    args: Sequence[str],
    env: dict[str, str],
    *,
    timeout: float,
    stdin: str | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``args`` to the end from the user's folder; text in and out as UTF-8."""
    return subprocess.run(
        list(args),
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        cwd=str(cwd) if cwd is not None else user_cwd(env),
        timeout=timeout,
        check=False,
    )
