"""What install.sh says when its final test dies: the explanation, without any llama.cpp."""

from __future__ import annotations

from pathlib import Path

import pytest

from amalia_local.bundle import manifest, smoke

HASWELL = {"SSE4.2": True, "AVX": True, "AVX2": True, "FMA": True, "F16C": True,
           "AVX-512": False, "AVX-VNNI": False, "AMX": False}  # fmt: skip


def write_bundle(root: Path, build: manifest.LlamaBuild | None) -> Path:
    root.mkdir()
    manifest.Manifest(
        created_at="2026-11-30T00:00:00+00:00",
        amalia_local="0.1.0",
        target=manifest.Target("manylinux_2_36_x86_64", "3.11", True, "0.3.36", False),
        models=(),
        files=(),
        llama_build=build,
    ).write(root)
    return root


def native(built_on: tuple[str, ...]) -> manifest.LlamaBuild:
    return manifest.LlamaBuild("0.3.36", "native", "", "unknown", (), built_on)


def test_a_native_build_names_the_missing_instructions(tmp_path: Path) -> None:
    root = write_bundle(tmp_path / "b", native(("SSE4.2", "AVX2", "AVX-512", "AVX-VNNI")))
    key, params = smoke.explain(root, 132, HASWELL)
    assert key == "bundle.smoke_missing"
    assert params == {"features": "AVX-512, AVX-VNNI", "signal": "SIGILL"}


def test_the_build_record_survives_the_manifest_round_trip(tmp_path: Path) -> None:
    build = manifest.LlamaBuild("0.3.36", "portable", "-DGGML_BACKEND_DL=ON", "none",
                                ("haswell", "x64"), ())  # fmt: skip
    root = write_bundle(tmp_path / "b", build)
    assert manifest.load(root).llama_build == build
    assert build.requires == () and native(("AVX2",)).requires == ("AVX2",)


@pytest.mark.parametrize(
    "build", [manifest.LlamaBuild("0.3.36", "portable", "", "none", ("x64",), ()), None]
)
def test_a_crash_with_nothing_missing_says_what_the_cpu_has(
    tmp_path: Path, build: manifest.LlamaBuild | None
) -> None:
    root = write_bundle(tmp_path / "b", build)
    key, params = smoke.explain(root, 139, HASWELL)
    assert key == "bundle.smoke_signal"
    assert params == {"signal": "SIGSEGV", "present": "SSE4.2 AVX AVX2 FMA F16C"}


def test_a_plain_failure_is_not_blamed_on_the_cpu(tmp_path: Path) -> None:
    root = write_bundle(tmp_path / "b", native(("AVX-512",)))
    assert smoke.explain(root, 1, HASWELL) == ("bundle.smoke_failed", {"code": 1})


def test_the_message_is_one_line_in_both_languages(tmp_path: Path, capsys) -> None:
    # A feature no processor has: missing here whatever this machine is.
    root = write_bundle(tmp_path / "b", native(("SSE4.2", "AVX-4096")))
    assert smoke.main([str(root), "132"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("amalia: este processador não tem AVX-4096,")
    assert " / this processor lacks " in err and "(SIGILL)" in err
