"""amalia bundle verify: every file against the manifest; exit 0 only when intact."""

from __future__ import annotations

from pathlib import Path

from bundle_helpers import AMALIA_FILE, cli, read_manifest


def test_an_untouched_bundle_is_intact(bundle_dir: Path, fresh_env) -> None:
    files = len(read_manifest(bundle_dir)["files"])
    result = cli(fresh_env, "bundle", "verify", str(bundle_dir))
    assert result.returncode == 0, result.stdout + result.stderr
    build, verdict = result.stdout.splitlines()
    assert build.startswith("llama.cpp 0.") and ": portable, for any CPU" in build
    assert verdict == f"Bundle intact: {files} files match manifest.json"


def test_one_flipped_byte_names_the_corrupted_model(bundle_copy: Path, fresh_env) -> None:
    model = bundle_copy / "models" / AMALIA_FILE
    with open(model, "r+b") as fh:
        fh.seek(model.stat().st_size // 2)
        byte = fh.read(1)
        fh.seek(-1, 1)
        fh.write(bytes([byte[0] ^ 0x01]))
    result = cli(fresh_env, "bundle", "verify", str(bundle_copy))
    assert result.returncode == 1
    build, *problems = result.stdout.splitlines()
    assert build.startswith("llama.cpp 0.")  # what the bundle is, then what is wrong
    assert problems == [
        f"corrupted: models/{AMALIA_FILE}",
        "Bundle NOT intact: 0 missing, 1 corrupted, 0 extra",
    ]
    pt = cli(fresh_env, "--lang", "pt", "bundle", "verify", str(bundle_copy))
    assert pt.returncode == 1 and f"corrompido: models/{AMALIA_FILE}" in pt.stdout


def test_missing_truncated_and_extra_files_are_each_named(bundle_copy: Path, fresh_env) -> None:
    wheel = sorted((bundle_copy / "wheels").glob("numpy-*.whl"))[0]
    wheel.unlink()
    with open(bundle_copy / "README.txt", "r+b") as fh:
        fh.truncate(10)
    (bundle_copy / "models" / "stray.gguf").write_bytes(b"GGUF")
    (bundle_copy / ".DS_Store").write_bytes(b"\0")  # left by macOS on USB sticks: ignored
    result = cli(fresh_env, "--lang", "pt", "bundle", "verify", str(bundle_copy))
    assert result.returncode == 1
    build, *problems = result.stdout.splitlines()
    assert build.startswith("llama.cpp 0.") and "portátil" in build
    assert problems == [
        f"em falta: wheels/{wheel.name}",
        "corrompido: README.txt",
        "a mais (não está no manifesto): models/stray.gguf",
        "Pacote NÃO íntegro: 1 em falta, 1 corrompidos, 1 a mais",
    ]


def test_only_extra_files_still_fail_verify(bundle_copy: Path, fresh_env) -> None:
    (bundle_copy / "notes.txt").write_text("x", encoding="utf-8")
    result = cli(fresh_env, "bundle", "verify", str(bundle_copy))
    assert result.returncode == 1
    assert "extra (not in the manifest): notes.txt" in result.stdout


def test_not_a_bundle(tmp_path: Path, fresh_env) -> None:
    result = cli(fresh_env, "bundle", "verify", str(tmp_path))
    assert result.returncode == 1
    assert result.stderr == f"amalia: {tmp_path} is not a bundle: manifest.json is missing\n"
    (tmp_path / "manifest.json").write_text("{not json", encoding="utf-8")
    result = cli(fresh_env, "bundle", "verify", str(tmp_path))
    assert result.returncode == 1 and "manifest" in result.stderr and "invalid" in result.stderr
    assert "Traceback" not in result.stderr
