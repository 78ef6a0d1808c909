"""The Windows llama-cpp-python wheel cross-built here: what a Windows PC will load.

Its DLLs import only Windows' own libraries (no libstdc++-6.dll, no Visual C++
redistributable to install), and the baseline CPU variant holds no AVX instruction, so a
PC from 2010 runs it; the AVX2 variant does hold them (so the check can see them).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
import zipfile
from pathlib import Path

import pytest
from wine_helpers import make_win_bundle

from amalia_local.bundle import windows_build


@pytest.fixture(scope="module")
def dlls(windows_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("dlls")
    found = {}
    with zipfile.ZipFile(windows_wheel) as archive:
        for name in archive.namelist():
            if name.endswith(".dll"):
                path = folder / Path(name).name
                path.write_bytes(archive.read(name))
                found[path.name] = path
    return found


def test_the_wheel_is_a_windows_wheel_with_the_package_and_every_dll(windows_wheel: Path) -> None:
    assert windows_wheel.name == "llama_cpp_python-0.3.36-py3-none-win_amd64.whl"
    with zipfile.ZipFile(windows_wheel) as archive:
        names = set(archive.namelist())
        wheel = archive.read("llama_cpp_python-0.3.36.dist-info/WHEEL").decode()
        record = archive.read("llama_cpp_python-0.3.36.dist-info/RECORD").decode()
        for line in record.splitlines():
            name, digest, size = line.rsplit(",", 2)
            if not digest:
                continue
            data = archive.read(name)
            expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            assert digest == f"sha256={expected.decode()}" and int(size) == len(data), name
    assert "Tag: py3-none-win_amd64" in wheel and "Root-Is-Purelib: false" in wheel
    assert {"llama_cpp/__init__.py", "llama_cpp/llama.py", "llama_cpp/llama_cpp.py"} <= names
    dlls = {
        n.removeprefix("llama_cpp/lib/").removeprefix("lib") for n in names if n.endswith(".dll")
    }
    wanted = {"llama.dll", "ggml.dll", "ggml-base.dll"}
    wanted |= {f"ggml-cpu-{v}.dll" for v in windows_build.SMALL_VARIANTS}
    assert dlls == wanted and all(
        n.startswith("llama_cpp/lib/") for n in names if n.endswith(".dll")
    )
    assert not any(n.startswith(("include/", "lib/")) for n in names)  # no build leftovers


def test_the_dlls_import_only_windows_own_libraries(dlls: dict[str, Path]) -> None:
    lists = {name: windows_build.dll_imports(path) for name, path in sorted(dlls.items())}
    for name, imports in lists.items():
        print(f"{name}: {' '.join(imports)}")
    allowed = windows_build.SYSTEM_DLLS | windows_build.own_dlls()
    for name, imports in lists.items():
        assert set(imports) <= allowed, (name, imports)
        assert not {"libstdc++-6.dll", "libgcc_s_seh-1.dll", "libwinpthread-1.dll"} & set(imports)
    llama = lists.get("llama.dll") or lists["libllama.dll"]
    assert "kernel32.dll" in llama  # the lists were read at all


def test_the_baseline_variant_has_no_avx_and_the_avx2_one_has(dlls: dict[str, Path]) -> None:
    def avx_instructions(path: Path) -> int:
        done = subprocess.run(
            [f"{windows_build.TRIPLET}-objdump", "-d", "--no-show-raw-insn", str(path)],
            capture_output=True,
            text=True,
            check=True,
        )
        return sum(1 for line in done.stdout.splitlines() if _is_avx(line))

    baseline = avx_instructions(dlls["ggml-cpu-x64.dll"])
    avx2 = avx_instructions(dlls["ggml-cpu-haswell.dll"])
    print(f"AVX instructions: x64 {baseline}, haswell {avx2}")
    assert baseline == 0
    assert avx2 > 1000


def _is_avx(line: str) -> bool:
    """A VEX/EVEX-encoded instruction (AVX and later): its mnemonic starts with "v" (but
    the old verr/verw), or it names a ymm/zmm register, which exist only from AVX on."""
    parts = line.split("\t")
    if len(parts) < 2 or ":" not in parts[0]:
        return False
    mnemonic = parts[1].strip().split(" ", 1)[0]
    vex = mnemonic.startswith("v") and mnemonic not in ("verr", "verw")
    return vex or "%ymm" in line or "%zmm" in line


def test_a_second_request_takes_the_cached_wheel(windows_wheel: Path) -> None:
    from wine_helpers import wheel_cache

    from amalia_local.bundle import wheelhouse

    spec = windows_build.WindowsSpec(
        wheel_cache(), wheelhouse.llama_version(), windows_build.SMALL_VARIANTS
    )

    def no_build(folder: Path) -> Path:
        raise AssertionError("built again")

    again = spec.ensure(no_build, lambda s, n: None, Path("/nonexistent/log"))
    assert again.path == windows_wheel
    assert again.cpu_variants == ("haswell", "x64")


def test_a_bundle_for_python_3_13(windows_wheel: Path, smollm: Path, tmp_path: Path) -> None:
    """``--python 3.13``: each dependency a win_amd64 wheel for 3.13 (numpy 2, which wine 8
    cannot import: so this bundle is made and checked, not run; 3.12's is run), the same
    cross-built llama-cpp-python, install.cmd asking for 3.13."""
    bundle = make_win_bundle(tmp_path, smollm, "3.13")
    wheels = sorted(p.name for p in (bundle / "wheels").glob("*.whl"))
    (shipped,) = (bundle / "wheels").glob("llama_cpp_python-*.whl")
    assert shipped.read_bytes() == windows_wheel.read_bytes()
    native = [w for w in wheels if not w.endswith("-none-any.whl") and w != shipped.name]
    assert native and all(
        re.search(r"-(cp313-cp313|cp3\d+-abi3)-win_amd64\.whl$", w) for w in native
    ), native
    assert any(w.startswith("numpy-2") for w in native)
    assert json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))["target"] == {
        "platform": "win_amd64", "python": "3.13", "native": False,
        "llama_cpp_python": shipped.name.split("-")[1], "llama_cpp_from_source": False,
    }  # fmt: skip
    assert b'set "WANT=3.13"' in (bundle / "install.cmd").read_bytes()
