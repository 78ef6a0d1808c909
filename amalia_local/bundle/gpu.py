"""GPU backends a portable llama.cpp build can carry: ``bundle create --gpu``'s choices.

Apart from :mod:`.llama_build` (subprocess, hashlib, zipfile, tempfile: 10-17 ms) so the
command line can offer the choices without loading the builder on every start.
"""

from __future__ import annotations

# GPU backends are off unless asked: the target may have no driver for them, and
# llama.cpp built with Metal or CUDA refuses to start without one.
GPU_FLAGS = {
    "none": ("-DGGML_CUDA=OFF", "-DGGML_METAL=OFF", "-DGGML_VULKAN=OFF", "-DGGML_HIP=OFF"),
    "cuda": ("-DGGML_CUDA=ON", "-DGGML_METAL=OFF", "-DGGML_VULKAN=OFF", "-DGGML_HIP=OFF"),
}
GPU_CHOICES = tuple(GPU_FLAGS)
