"""The package the tests run is the one pip installed, not a folder that shadows it.

A bundle whose wheel could not load its own messages passed every test, because each
subprocess imported the checkout from its working directory. The floors job installs
the wheel (not editable) and sets ``AMALIA_TEST_EXPECT_INSTALLED=1``: there the code
must come from site-packages, in this process and in one started as a user starts it.
"""

from __future__ import annotations

import os
import sys
import sysconfig
from pathlib import Path

import pytest
from user_process import run_as_user, user_env

import amalia_local

FIND = "import amalia_local; print(amalia_local.__file__)"


def _expect_installed() -> bool:
    return os.environ.get("AMALIA_TEST_EXPECT_INSTALLED") == "1"


def test_a_user_process_imports_what_this_one_does(tmp_path: Path) -> None:
    """``python -m`` from the user's folder finds the same package as the tests."""
    done = run_as_user([sys.executable, "-c", FIND], user_env(tmp_path / "user"), timeout=60)
    assert done.returncode == 0, done.stderr
    where = Path(done.stdout.splitlines()[0]).resolve()
    assert where == Path(amalia_local.__file__).resolve()


@pytest.mark.skipif(not _expect_installed(), reason="set by .ci/floors, which installs the wheel")
def test_the_package_comes_from_site_packages(tmp_path: Path) -> None:
    purelib = Path(sysconfig.get_paths()["purelib"]).resolve()
    assert Path(amalia_local.__file__).resolve().is_relative_to(purelib), amalia_local.__file__
    # the chat's stylesheet and the catalogues came with the wheel
    package = Path(amalia_local.__file__).parent
    assert list(package.rglob("*.tcss")) and (package / "locales" / "pt.json").is_file()
    done = run_as_user([sys.executable, "-c", FIND], user_env(tmp_path / "user"), timeout=60)
    assert Path(done.stdout.splitlines()[0]).resolve().is_relative_to(purelib), done.stdout
