"""The rules that keep a crafted manifest inside its bundle, and target markers."""

from __future__ import annotations

from pathlib import Path

import pytest

from amalia_local.bundle.errors import UnsafePathError
from amalia_local.bundle.manifest import safe_path
from amalia_local.bundle.wheelhouse import target_environment


@pytest.mark.parametrize("good", ["models/a.gguf", "wheels/numpy-2.4.6-cp311.whl", "README.txt",
                                  "models/nome com espaços.gguf"])  # fmt: skip
def test_plain_relative_paths_stay_inside(tmp_path: Path, good: str) -> None:
    assert safe_path(tmp_path, good) == tmp_path.resolve().joinpath(*good.split("/"))


@pytest.mark.parametrize(
    "bad",
    ["", "/etc/passwd", "../x", "models/../../x", "models/./a", "a//b", "C:/x", "c:x",
     "models\\a.gguf", "manifest.json", "a\0b", 5, None],
)  # fmt: skip
def test_anything_else_is_refused(tmp_path: Path, bad: object) -> None:
    with pytest.raises(UnsafePathError):
        safe_path(tmp_path, bad)


def test_a_link_inside_the_bundle_is_followed_only_if_it_stays_inside(tmp_path: Path) -> None:
    root = tmp_path / "bundle"
    (root / "models").mkdir(parents=True)
    (root / "models" / "real.gguf").write_bytes(b"x")
    (root / "models" / "alias.gguf").symlink_to("real.gguf")
    assert safe_path(root, "models/alias.gguf").resolve() == (root / "models" / "real.gguf")
    (root / "models" / "out.gguf").symlink_to(tmp_path)
    with pytest.raises(UnsafePathError):
        safe_path(root, "models/out.gguf")


def test_target_markers_follow_the_platform_tag() -> None:
    """What pip download --platform does not evaluate for the target (colorama on Windows)."""
    from packaging.markers import Marker

    windows = target_environment("win_amd64", "3.12")
    assert Marker('platform_system == "Windows"').evaluate(windows)
    assert Marker('sys_platform == "win32" and python_version >= "3.12"').evaluate(windows)
    mac = target_environment("macosx_11_0_arm64", "3.10")
    assert Marker('sys_platform == "darwin" and platform_machine == "arm64"').evaluate(mac)
    assert Marker('python_version < "3.11"').evaluate(mac)
    linux = target_environment("manylinux_2_28_aarch64", "3.11")
    assert Marker('platform_machine == "aarch64" and os_name == "posix"').evaluate(linux)
    assert not Marker('platform_system == "Windows"').evaluate(linux)


def test_manylinux_targets_accept_older_glibc_levels() -> None:
    """numpy for Python 3.10 is tagged manylinux_2_17 only: a 2_28 target must take it."""
    from amalia_local.bundle.wheelhouse import platform_tags

    tags = platform_tags("manylinux_2_28_x86_64")
    assert tags[0] == "manylinux_2_28_x86_64" and tags.index("manylinux_2_17_x86_64") > 0
    assert {"manylinux2014_x86_64", "manylinux1_x86_64"} <= set(tags)
    assert "manylinux_2_29_x86_64" not in tags
    assert "manylinux2010_aarch64" not in platform_tags("manylinux_2_28_aarch64")
    assert platform_tags("musllinux_1_2_x86_64") == ["musllinux_1_2_x86_64", "musllinux_1_1_x86_64"]
    assert platform_tags("win_amd64") == ["win_amd64"]
