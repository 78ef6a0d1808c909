"""ggml's CPU-variant libraries, named in one place: ``libggml-cpu-haswell.so`` is "haswell".

A portable llama.cpp (``GGML_CPU_ALL_VARIANTS``) ships one CPU backend per
instruction-set level. The engine reads the names from llama_cpp's ``lib`` folder and
from the libraries mapped into the process; the bundle reads them from a wheel's
listing. Pure (no llama.cpp import), so the bundle can use it without loading libllama.
"""

from __future__ import annotations

import re

# A file name or a path ending in one ("llama_cpp/lib/libggml-cpu-skylakex.so").
VARIANT_LIBRARY = re.compile(r"(?:^|/)(?:lib)?ggml-cpu-([A-Za-z0-9_]+)\.(?:so|dll|dylib)$")


def variant_of(name: str) -> str | None:
    """The variant a library file or archive path is built for; None if it is not one."""
    match = VARIANT_LIBRARY.search(name)
    return match.group(1) if match else None
