"""What the GPU side of this llama.cpp build can hold, asked of ggml itself.

llama-cpp-python binds no device API, so ggml's ``ggml_backend_dev_*`` functions are
called through the ggml library libllama is linked against (:func:`backends.ggml_library`:
the wheel holds several copies of it, each with its own device registry, and only that
one has a portable build's backends loaded). Anything missing or failing means "could not
ask", never an error: the fit check then says it could not check.
"""

from __future__ import annotations

import ctypes
import sys
from dataclasses import dataclass

# enum ggml_backend_dev_type (ggml-backend.h)
_DEVICE_CPU = 0
_DEVICE_GPU = 1
_DEVICE_IGPU = 2  # integrated GPU: shares system memory


@dataclass(frozen=True)
class GpuMemory:
    unified: bool  # the GPU uses system RAM (Apple Metal, integrated GPUs)
    free: int | None  # free bytes on discrete GPUs, None when llama.cpp cannot tell


def gpu_memory(gpu_offload: bool) -> GpuMemory:
    if not gpu_offload:
        return GpuMemory(unified=False, free=None)
    if sys.platform == "darwin":
        return GpuMemory(unified=True, free=None)  # Metal: one pool of memory
    devices = _devices()
    if devices is None:
        return GpuMemory(unified=False, free=None)
    discrete = [free for kind, free in devices if kind == _DEVICE_GPU]
    if discrete:
        return GpuMemory(unified=False, free=sum(discrete) or None)
    if any(kind == _DEVICE_IGPU for kind, _ in devices):
        return GpuMemory(unified=True, free=None)
    return GpuMemory(unified=False, free=None)


def _devices() -> list[tuple[int, int]] | None:
    """(type, free bytes) of every ggml device, or None when ggml cannot be asked."""
    try:
        from amalia_local.engine.backends import ensure_loaded, ggml_library

        ensure_loaded()
        lib = ggml_library()
        lib.ggml_backend_dev_count.restype = ctypes.c_size_t
        lib.ggml_backend_dev_count.argtypes = []
        lib.ggml_backend_dev_get.restype = ctypes.c_void_p
        lib.ggml_backend_dev_get.argtypes = [ctypes.c_size_t]
        lib.ggml_backend_dev_type.restype = ctypes.c_int
        lib.ggml_backend_dev_type.argtypes = [ctypes.c_void_p]
        lib.ggml_backend_dev_memory.restype = None
        lib.ggml_backend_dev_memory.argtypes = [
            ctypes.c_void_p,
            ctypes.POINTER(ctypes.c_size_t),
            ctypes.POINTER(ctypes.c_size_t),
        ]
        found = []
        for index in range(lib.ggml_backend_dev_count()):
            device = lib.ggml_backend_dev_get(index)
            free, total = ctypes.c_size_t(), ctypes.c_size_t()
            lib.ggml_backend_dev_memory(device, ctypes.byref(free), ctypes.byref(total))
            found.append((int(lib.ggml_backend_dev_type(device)), int(free.value)))
        return found
    except (ImportError, AttributeError, OSError):
        return None
