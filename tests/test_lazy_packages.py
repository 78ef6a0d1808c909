"""Packages that export their names lazily (engine, fit, documents, store.hub) export the
right thing.

Each of them imports a name's module only when the name is first asked for, so that
``run --endpoint`` loads none of what it does not use. The trap of that pattern: once a
submodule is imported, the package's attribute of the same name is that module, so a
module named like one of the names (``fit/decide.py`` beside the function ``decide``)
would hand out the module. Each check runs in a fresh interpreter (this one has loaded
half the package already): every submodule is imported first, then every name looked up.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

CHECK = """
import importlib, pkgutil, sys
package = sys.argv[1]
module = importlib.import_module(package)
for info in pkgutil.iter_modules(module.__path__):
    importlib.import_module(f"{package}.{info.name}")
assert sorted(module._HOMES) == sorted(module.__all__), "_HOMES and __all__ differ"
for name, home in module._HOMES.items():
    expected = getattr(importlib.import_module(f"{package}.{home}"), name)
    namespace = {}
    exec(f"from {package} import {name}", namespace)
    assert namespace[name] is expected, f"from {package} import {name}: {namespace[name]!r}"
print("ok")
"""


@pytest.mark.parametrize(
    "package",
    [
        "amalia_local.engine",
        "amalia_local.fit",
        "amalia_local.documents",
        "amalia_local.store.hub",
    ],
)
def test_every_exported_name_is_its_object_after_every_submodule_is_loaded(package, tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", CHECK, package],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,  # the installed package
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ok\n"
