"""amalia bundle create: what a bundle holds, and what it refuses to do."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from bundle_helpers import AMALIA_FILE, cli, read_manifest


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_bundle_lists_every_file_with_its_real_sha256(bundle_dir: Path) -> None:
    manifest = read_manifest(bundle_dir)
    on_disk = sorted(
        p.relative_to(bundle_dir).as_posix()
        for p in bundle_dir.rglob("*")
        if p.is_file() and p.name != "manifest.json"
    )
    assert [f["path"] for f in manifest["files"]] == on_disk
    for entry in manifest["files"]:
        path = bundle_dir / entry["path"]
        assert entry["size"] == path.stat().st_size
        assert entry["sha256"] == _sha256(path)
    assert {
        "install.py",
        "install.sh",
        "install.ps1",
        "install.cmd",
        "LEIA-ME.txt",
        "README.txt",
    } <= set(on_disk)
    assert os.access(bundle_dir / "install.sh", os.X_OK)
    # nothing half-written is left next to the bundle
    assert [p.name for p in bundle_dir.parent.iterdir()] == ["bundle"]


def test_manifest_records_models_target_and_versions(bundle_dir: Path, tiny_model: Path) -> None:
    manifest = read_manifest(bundle_dir)
    models = {m["name"]: m for m in manifest["models"]}
    assert set(models) == {"amalia:q4_k_m", "tiny"}
    amalia = models["amalia:q4_k_m"]
    assert amalia["path"] == f"models/{AMALIA_FILE}"
    assert amalia["source"] == "hub" and amalia["commit"] and amalia["repo"]
    assert amalia["catalogue"]["name"] == "amalia" and amalia["catalogue"]["quant"] == "q4_k_m"
    assert models["tiny"]["source"] == "import" and models["tiny"]["catalogue"] is None
    assert models["tiny"]["sha256"] == _sha256(tiny_model)
    target = manifest["target"]
    assert target["native"] is True and target["llama_cpp_from_source"] is False
    assert target["python"] == "{}.{}".format(*__import__("sys").version_info[:2])
    assert manifest["amalia_local"] and manifest["created_at"].endswith("+00:00")
    wheels = [f["path"] for f in manifest["files"] if f["path"].startswith("wheels/")]
    names = {Path(w).name.split("-")[0].lower() for w in wheels}
    # the package itself, the engine as a wheel (nothing to compile offline), and deps
    assert {"amalia_local", "llama_cpp_python", "numpy", "gguf", "textual"} <= names
    assert {"huggingface_hub", "platformdirs", "jinja2"} <= names
    assert all(w.endswith(".whl") for w in wheels)


def test_notes_give_the_offline_steps_in_both_languages(bundle_dir: Path) -> None:
    leia = (bundle_dir / "LEIA-ME.txt").read_text(encoding="utf-8")
    read = (bundle_dir / "README.txt").read_text(encoding="utf-8")
    assert "sh install.sh" in leia and "Passos" in leia and "pasta" in leia
    assert "sh install.sh" in read and "Steps" in read
    for text in (leia, read):
        assert "amalia:q4_k_m" in text and "tiny" in text
        assert "install.ps1" in text and "amalia bundle verify" in text
    # The scripts only find Python and run install.py, shielded (-P) from the folder they
    # are started in; install.py runs the installer from the bundle's own wheel.
    script = (bundle_dir / "install.sh").read_text(encoding="utf-8")
    assert 'exec "$PYTHON" -P "$HERE/install.py" "$@"' in script
    ps1 = (bundle_dir / "install.ps1").read_bytes()
    assert ps1.startswith(b"\xef\xbb\xbf")  # BOM: PowerShell 5 reads "não" right
    assert b'& (Join-Path $PSScriptRoot "install.cmd") @args' in ps1  # one search: cmd's
    cmd = (bundle_dir / "install.cmd").read_bytes()
    assert cmd.startswith(b"@echo off\r\n")  # no BOM: cmd would run it as a command
    assert b'-P "%HERE%install.py" %*\r\n' in cmd and b"chcp 65001" in cmd
    installer = (bundle_dir / "install.py").read_text(encoding="utf-8")
    wheel = next(p.name for p in (bundle_dir / "wheels").glob("amalia_local-*.whl"))
    assert f'"wheels", "{wheel}"' in installer
    assert "from amalia_local.bundle.installer import main" in installer
    assert list((bundle_dir / "wheels").glob("pip-*.whl"))  # pip runs from its wheel


def test_refuses_a_folder_that_is_not_empty(tmp_path: Path, maker_env, wheel_source) -> None:
    out = tmp_path / "out"
    out.mkdir()
    keep = out / "notes.txt"
    keep.write_text("mine", encoding="utf-8")
    result = cli(
        maker_env,
        "bundle",
        "create",
        str(out),
        "--model",
        "tiny",
        "--wheelhouse-from",
        str(wheel_source),
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"amalia: {out} already exists and is not empty: choose a new folder "
        "(nothing is overwritten)"
    ]
    assert keep.read_text(encoding="utf-8") == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_unknown_model_fails_before_anything_is_written(tmp_path: Path, maker_env) -> None:
    out = tmp_path / "out"
    result = cli(maker_env, "--lang", "pt", "bundle", "create", str(out), "--model", "nada")
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("amalia: ") and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_bad_target_is_a_usage_error(tmp_path: Path, maker_env) -> None:
    out = tmp_path / "out"
    result = cli(maker_env, "bundle", "create", str(out), "--model", "tiny", "--python", "three")
    assert result.returncode == 2
    assert result.stderr == "amalia: --python three: expected a version like 3.11\n"
    result = cli(maker_env, "bundle", "create", str(out), "--model", "tiny", "--platform", "../x")
    assert result.returncode == 2 and "--platform ../x" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_failed_wheelhouse_leaves_nothing_behind(tmp_path: Path, maker_env) -> None:
    """An empty wheel source: pip fails, the half-made bundle is removed, one line."""
    empty = tmp_path / "no-wheels"
    empty.mkdir()
    out = tmp_path / "out"
    result = cli(
        maker_env, "bundle", "create", str(out), "--model", "tiny", "--wheelhouse-from", str(empty)
    )
    assert result.returncode == 1
    assert result.stderr.rstrip().splitlines()[-1].startswith("amalia: pip failed (")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["no-wheels"]


def _mount_namespaces_work() -> bool:
    import shutil
    import subprocess

    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True, check=False)
    return probe.returncode == 0


@pytest.mark.skipif(not _mount_namespaces_work(), reason="unshare -m is not permitted here")
def test_free_space_is_checked_before_anything_is_written(
    tmp_path: Path, maker_env, wheel_source
) -> None:
    """A real 2 MB file system (tmpfs in a private mount namespace): refused up front."""
    import subprocess
    import sys

    small = tmp_path / "small"
    small.mkdir()
    script = (
        'mount -t tmpfs -o size=2m tmpfs "$1" && shift && "$@"; status=$?; '
        'ls -A "$SMALL" > "$SMALL.listing"; exit $status'
    )
    result = subprocess.run(
        ["unshare", "-m", "sh", "-c", script, "sh", str(small), sys.executable, "-m",
         "amalia_local", "bundle", "create", str(small / "b"), "--model", "tiny",
         "--wheelhouse-from", str(wheel_source)],
        env={**maker_env, "SMALL": str(small)}, cwd=maker_env["HOME"], capture_output=True,
        text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith(f"amalia: not enough free disk space in {small}: ")
    assert "MB needed" in line
    assert (tmp_path / "small.listing").read_text(encoding="utf-8") == ""
