"""Packages whose exported names import their modules only when first used.

Why: ``amalia run --endpoint`` must show its first token within 50 ms of the server's, and
``--help`` must not load llama.cpp; importing a package must not import everything in it.
A package lists where each name lives and sets ``__getattr__ = lazy_getattr(__name__, HOMES)``
(PEP 562). No module of such a package may be named like one of its names: importing
``pkg.X`` sets the package's attribute ``X`` to the module, and the lazy name would never be
looked up again.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_getattr(package: str, homes: Mapping[str, str]) -> Callable[[str], Any]:
    """A module-level ``__getattr__`` for ``package``; ``homes`` maps a name to its module.

    The first use of a name sets every name of its module on the package, so each module
    is looked up once.
    """

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(f"{package}.{home}")
        namespace = vars(sys.modules[package])
        namespace.update({n: getattr(module, n) for n, h in homes.items() if h == home})
        return namespace[name]

    return __getattr__
