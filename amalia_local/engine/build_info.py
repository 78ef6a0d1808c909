"""What the installed llama.cpp is: version, compiled features, GPU and CPU backends.

``amalia doctor`` reports it; it lives in the engine because only the engine talks to
llama.cpp. The CPU backend is loaded first, so a portable build reports the features of
the variant this processor actually runs, not an empty list.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass

import llama_cpp

from amalia_local.engine import backends
from amalia_local.engine.backends import CpuBackend


@dataclass(frozen=True)
class LlamaBuild:
    version: str
    system_info: str
    features: list[str]
    gpu_offload: bool
    backends: list[str]
    cpu_backend: CpuBackend  # not backends.CpuBackend: the field above shadows the module


def llama_build() -> LlamaBuild:
    cpu = backends.ensure_loaded()
    info = llama_cpp.llama_print_system_info()
    text = info.decode("utf-8", "replace") if isinstance(info, bytes) else str(info)
    features = re.findall(r"([A-Z0-9_]+) = 1", text)
    gpus = [
        b for b in ("CUDA", "Metal", "Vulkan", "ROCm", "SYCL", "BLAS") if b.upper() in text.upper()
    ]
    return LlamaBuild(
        version=getattr(llama_cpp, "__version__", "?"),
        system_info=text.strip(" |\n"),
        features=features,
        gpu_offload=bool(llama_cpp.llama_supports_gpu_offload()),
        backends=gpus,
        cpu_backend=cpu,
    )


def backend_name(n_gpu_layers: int) -> str:
    """CPU, or the GPU library llama.cpp was built with (Metal, CUDA, ...)."""
    if not n_gpu_layers:
        return "CPU"
    if sys.platform == "darwin":
        return "Metal"
    info = llama_cpp.llama_print_system_info().decode("utf-8", errors="replace")
    for name in ("CUDA", "ROCm", "HIP", "Vulkan", "SYCL", "OpenCL"):
        if name in info:
            return name
    return "GPU"
