"""The llama.cpp a bundle carries: portable by default, recorded, reported by verify."""

from __future__ import annotations

import zipfile
from pathlib import Path

from bundle_helpers import cli, read_manifest, write_manifest

# GGML_CPU_ALL_VARIANTS on x86-64: from the plain baseline to AVX-512 server parts.
SOME_VARIANTS = {"x64", "sse42", "sandybridge", "haswell", "skylakex", "icelake"}


def _llama_wheel(bundle: Path) -> Path:
    return next((bundle / "wheels").glob("llama_cpp_python-*.whl"))


def test_manifest_records_a_portable_build(bundle_dir: Path) -> None:
    build = read_manifest(bundle_dir)["llama_build"]
    assert build["kind"] == "portable" and build["gpu"] == "none"
    assert set(build["cpu_variants"]) >= SOME_VARIANTS
    for flag in ("-DGGML_NATIVE=OFF", "-DGGML_BACKEND_DL=ON", "-DGGML_CPU_ALL_VARIANTS=ON"):
        assert flag in build["cmake_args"]
    assert "-DGGML_CUDA=OFF" in build["cmake_args"]


def test_the_cpu_variants_live_beside_libllama(bundle_dir: Path) -> None:
    with zipfile.ZipFile(_llama_wheel(bundle_dir)) as wheel:
        names = wheel.namelist()
    assert "llama_cpp/lib/libggml-cpu-haswell.so" in names
    assert "llama_cpp/lib/libggml-cpu-x64.so" in names
    assert not [n for n in names if n.startswith("bin/")]  # not in site-packages/bin


def test_verify_reports_a_portable_build(bundle_dir: Path, fresh_env) -> None:
    done = cli(fresh_env, "bundle", "verify", str(bundle_dir))
    assert done.returncode == 0, done.stdout + done.stderr
    line = next(x for x in done.stdout.splitlines() if x.startswith("llama.cpp "))
    assert "portable" in line and "haswell" in line and "warning" not in done.stdout


def test_verify_warns_about_a_native_only_build(bundle_copy: Path, fresh_env) -> None:
    data = read_manifest(bundle_copy)
    data["llama_build"].update(kind="native", cpu_variants=[], built_on=["AVX2", "AVX-512"])
    write_manifest(bundle_copy, data)
    done = cli({**fresh_env, "LANG": "pt_PT.UTF-8"}, "bundle", "verify", str(bundle_copy))
    assert done.returncode == 0, done.stdout  # a warning: every file is still intact
    assert "aviso: o llama.cpp" in done.stdout and "(AVX2, AVX-512)" in done.stdout
    assert "sem --llama native" in done.stdout


def test_verify_warns_when_the_build_is_not_recorded(bundle_copy: Path, fresh_env) -> None:
    data = read_manifest(bundle_copy)
    del data["llama_build"]  # a bundle made before the build was recorded
    write_manifest(bundle_copy, data)
    done = cli(fresh_env, "bundle", "verify", str(bundle_copy))
    assert done.returncode == 0
    assert "does not record how its llama.cpp was compiled" in done.stdout


def test_a_malformed_build_record_is_refused(bundle_copy: Path, fresh_env) -> None:
    data = read_manifest(bundle_copy)
    data["llama_build"]["kind"] = "magic"
    write_manifest(bundle_copy, data)
    done = cli(fresh_env, "bundle", "verify", str(bundle_copy))
    assert done.returncode == 1
    assert "manifest" in done.stderr and "llama_build.kind" in done.stderr
    assert "Traceback" not in done.stderr


def test_gpu_backend_needs_the_portable_build(tmp_path: Path, maker_env) -> None:
    done = cli(
        maker_env, "bundle", "create", str(tmp_path / "b"), "--model", "x",
        "--llama", "native", "--gpu", "cuda",
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip() == "amalia: --gpu applies to the portable build; drop --llama native"
    assert not (tmp_path / "b").exists()
