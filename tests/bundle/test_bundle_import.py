"""amalia import DIR: verify, then register the bundle's models; nothing outside it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from bundle_helpers import AMALIA_FILE, ANSWER, cli, read_manifest, write_manifest

GREEDY = ("--temperature", "0", "--system", "")


def _index(env: dict[str, str]) -> list[dict]:
    path = Path(env["AMALIA_HOME"]) / "data" / "models" / "index.json"
    return json.loads(path.read_text(encoding="utf-8"))["models"] if path.exists() else []


def test_import_registers_both_models_under_their_names(bundle_dir: Path, fresh_env) -> None:
    result = cli(fresh_env, "import", str(bundle_dir))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("amalia:q4_k_m imported from the bundle (4.5 MB, ")
    assert lines[1].startswith("tiny imported from the bundle (4.5 MB, ")
    models = {m["name"]: m for m in _index(fresh_env)}
    assert set(models) == {"amalia:q4_k_m", "tiny"}
    manifest = {m["name"]: m for m in read_manifest(bundle_dir)["models"]}
    for name, model in models.items():
        assert model["sha256"] == manifest[name]["sha256"]
    # the catalogue model went where a pull puts it: the Hub cache, with its commit
    assert models["amalia:q4_k_m"]["source"] == "hub"
    assert models["amalia:q4_k_m"]["commit"] == manifest["amalia:q4_k_m"]["commit"]
    assert Path(models["amalia:q4_k_m"]["path"]).is_relative_to(fresh_env["HF_HOME"])
    # and answers by its catalogue name, offline (the Hub endpoint is a closed port)
    for name in ("amalia", "tiny"):
        answer = cli(fresh_env, "run", name, "Olá", *GREEDY)
        assert answer.returncode == 0, answer.stderr
        assert answer.stdout == ANSWER + "\n"
    again = cli(fresh_env, "import", str(bundle_dir))
    assert again.returncode == 0
    assert again.stdout.splitlines()[0].startswith("amalia:q4_k_m is already installed")


def test_import_in_portuguese_hard_links_on_the_same_disk(bundle_copy: Path, fresh_env) -> None:
    result = cli(fresh_env, "--lang", "pt", "import", str(bundle_copy))
    assert result.returncode == 0, result.stderr
    assert "tiny importado do pacote (4,5 MB, ligação física" in result.stdout
    tiny = next(m for m in _index(fresh_env) if m["name"] == "tiny")
    assert os.path.samefile(tiny["path"], bundle_copy / "models" / "tiny.gguf")


def test_a_damaged_bundle_imports_nothing(bundle_copy: Path, fresh_env) -> None:
    (bundle_copy / "models" / "tiny.gguf").unlink()
    result = cli(fresh_env, "import", str(bundle_copy))
    assert result.returncode == 1
    assert result.stdout == "missing: models/tiny.gguf\n"
    assert result.stderr.splitlines()[-1] == (
        f"amalia: the bundle in {bundle_copy} is damaged (1 missing, 0 corrupted): "
        "nothing was imported; copy it again"
    )
    assert _index(fresh_env) == []
    assert not (Path(fresh_env["HF_HOME"])).exists()


def test_extra_files_are_ignored_on_import(bundle_copy: Path, fresh_env) -> None:
    (bundle_copy / "notas.txt").write_text("x", encoding="utf-8")
    result = cli(fresh_env, "import", str(bundle_copy))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("note: 1 file(s) not in the manifest were ignored\n")


def test_name_option_is_refused_for_a_bundle(bundle_dir: Path, fresh_env) -> None:
    result = cli(fresh_env, "import", str(bundle_dir), "--name", "x")
    assert result.returncode == 2
    assert result.stderr == "amalia: --name applies to a .gguf file, not to a bundle folder\n"


@pytest.mark.parametrize(
    "evil",
    [
        "../../etc/passwd",
        "/etc/passwd",
        "models/../../outside.gguf",
        "models\\..\\..\\outside.gguf",
        "C:/Windows/win.ini",
        "models//tiny.gguf",
        "./models/tiny.gguf",
    ],
)
def test_paths_escaping_the_bundle_are_refused(bundle_copy: Path, fresh_env, evil: str) -> None:
    data = read_manifest(bundle_copy)
    tiny = next(m for m in data["models"] if m["name"] == "tiny")
    entry = next(f for f in data["files"] if f["path"] == tiny["path"])
    tiny["path"] = entry["path"] = evil
    write_manifest(bundle_copy, data)
    for command in (("import",), ("bundle", "verify")):
        result = cli(fresh_env, *command, str(bundle_copy))
        assert result.returncode == 1
        assert result.stderr == (
            "amalia: the bundle's manifest names a file outside the bundle: "
            f"{evil} (refused, nothing was read)\n"
        )
    assert _index(fresh_env) == []


def test_a_symlink_leaving_the_bundle_is_refused(bundle_copy: Path, fresh_env, tmp_path) -> None:
    """The manifest's path is harmless but the file is a link to a secret outside."""
    secret = tmp_path / "secret.gguf"
    secret.write_bytes((bundle_copy / "models" / "tiny.gguf").read_bytes())
    link = bundle_copy / "models" / "tiny.gguf"
    link.unlink()
    link.symlink_to(secret)
    result = cli(fresh_env, "import", str(bundle_copy))
    assert result.returncode == 1
    assert "outside the bundle: models/tiny.gguf" in result.stderr
    assert _index(fresh_env) == []
    # a linked folder escapes too
    models = bundle_copy / "models"
    moved = tmp_path / "elsewhere"
    models.rename(moved)
    models.symlink_to(moved)
    result = cli(fresh_env, "--lang", "pt", "import", str(bundle_copy))
    assert result.returncode == 1
    assert "fora do pacote" in result.stderr and "recusado" in result.stderr


def test_a_manifest_with_wrong_types_is_refused(bundle_copy: Path, fresh_env) -> None:
    data = read_manifest(bundle_copy)
    data["files"][0]["size"] = "big"
    write_manifest(bundle_copy, data)
    result = cli(fresh_env, "import", str(bundle_copy))
    assert result.returncode == 1
    assert result.stderr.startswith("amalia: the bundle's manifest ")
    assert "is invalid" in result.stderr and "Traceback" not in result.stderr
    # the model was never touched: nothing copied into the Hugging Face cache
    assert not any(Path(fresh_env["HF_HOME"]).rglob(AMALIA_FILE))
    assert _index(fresh_env) == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("revision", "../../../../outside"),
        ("repo", "owner/../../outside"),
        ("filename", "../../outside.gguf"),
        ("commit", "../" * 10 + "x"),
    ],
)
def test_hub_fields_that_would_leave_the_hub_cache_are_refused(
    bundle_copy: Path, fresh_env, tmp_path: Path, field: str, value: str
) -> None:
    """They become path parts under HF_HOME on import: refused before anything is written."""
    data = read_manifest(bundle_copy)
    model = next(m for m in data["models"] if m["name"] == "amalia:q4_k_m")
    model[field] = value
    write_manifest(bundle_copy, data)
    result = cli(fresh_env, "import", str(bundle_copy))
    assert result.returncode == 1
    assert result.stderr == (
        f"amalia: the bundle's manifest names a file outside the bundle: {value} "
        "(refused, nothing was read)\n"
    )
    assert _index(fresh_env) == [] and not Path(fresh_env["HF_HOME"]).exists()
