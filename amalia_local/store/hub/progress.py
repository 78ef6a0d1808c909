"""Download progress: the slice of tqdm that ``http_get`` drives, fed to a callback."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

ProgressCallback = Callable[[int, "int | None"], None]
"""Called with (bytes done, total bytes or None) as a download advances."""


def tqdm_adapter(callback: ProgressCallback | None) -> type:
    """A class with the slice of tqdm's interface ``http_get`` uses, feeding ``callback``."""

    class _Bar:
        def __init__(self, *_args: Any, total: int | None = None, initial: int = 0, **_kw: Any):
            self.total = total
            self.n = initial
            if callback is not None:
                callback(self.n, self.total)

        def update(self, n: int = 1) -> None:
            self.n += n
            if callback is not None:
                callback(self.n, self.total)

        def __enter__(self) -> _Bar:
            return self

        def __exit__(self, *_exc: object) -> None:
            return None

        def close(self) -> None:
            return None

    return _Bar
