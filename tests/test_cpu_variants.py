"""ggml's CPU-variant library names, read the same way by the engine and the bundle."""

from __future__ import annotations

import pytest

from amalia_local.cpu_variants import variant_of


@pytest.mark.parametrize(
    ("name", "variant"),
    [
        ("libggml-cpu-haswell.so", "haswell"),  # llama_cpp/lib on Linux
        ("llama_cpp/lib/libggml-cpu-skylakex.so", "skylakex"),  # a wheel's listing
        ("libggml-cpu-sandybridge.dylib", "sandybridge"),
        ("ggml-cpu-x64.dll", "x64"),  # Windows: no lib prefix
        ("libggml-cpu-icelake.so", "icelake"),
    ],
)
def test_variant_libraries(name: str, variant: str) -> None:
    assert variant_of(name) == variant


@pytest.mark.parametrize(
    "name",
    [
        "libggml-cpu.so",  # a native build's single CPU backend
        "libggml-base.so",
        "libggml.so.0",
        "libggml-cpu-haswell.so.0",  # not the name ggml loads
        "llama_cpp/lib/libggml-cpu-haswell.so.txt",
        "other/notggml-cpu-haswell.so",
    ],
)
def test_other_files_are_not_variants(name: str) -> None:
    assert variant_of(name) is None
