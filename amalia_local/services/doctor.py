"""``amalia doctor``: can this machine run AMALIA, and which quantization?

Everything a bug report needs in one place (OS, CPU features, RAM, disk, llama.cpp build,
versions, store and offline state), followed by the fit of each catalogue entry with the
numbers behind it, so "it is slow" and "it crashed" come with their likely cause.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
from importlib import metadata
from pathlib import Path
from typing import Any, TextIO

from amalia_local import cpu_features, fit, hardware
from amalia_local.runtime import Runtime
from amalia_local.store import ModelStore

PACKAGES = (
    "amalia-local",
    "llama-cpp-python",
    "gguf",
    "huggingface-hub",
    "textual",
    "platformdirs",
)


def cpu_model() -> str:
    if platform.system() == "Linux":
        try:
            with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
                for line in fh:
                    if line.lower().startswith(("model name", "hardware", "cpu model")):
                        return line.split(":", 1)[1].strip()
        except OSError:
            pass
    return platform.processor() or platform.machine()


def free_disk(path: Path) -> int:
    """Free bytes on the filesystem that holds (or will hold) ``path``."""
    probe = path
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    try:
        return shutil.disk_usage(probe).free
    except OSError:
        return 0


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def collect(store: ModelStore, memory: hardware.Memory | None = None) -> dict[str, Any]:
    """The report as plain data (``--json`` prints exactly this)."""
    mem = memory or hardware.memory()
    # llama.cpp is loaded here, not at import: ``doctor --help`` and the parts about the
    # machine and the store do not need it
    from amalia_local.engine.build_info import llama_build

    build = llama_build()
    judged = fit.assess(mem.available_bytes, store.catalogue.entries)
    best = next((f for f in judged if f.fits), None)
    return {
        "os": {
            "system": platform.system(),
            "release": platform.release(),
            "platform": platform.platform(),
        },
        "cpu": {
            "model": cpu_model(),
            "arch": platform.machine(),
            "features": cpu_features.features(),
            "llama_features": build.features,
            "physical_cores": hardware.physical_cores(),
            "logical_cpus": os.cpu_count() or 1,
        },
        "memory": {"total": mem.total_bytes, "available": mem.available_bytes},
        "disk": {
            "store": str(store.root),
            "store_free": free_disk(store.root),
            "hf_cache": str(store.hub.cache_dir),
            "hf_cache_free": free_disk(store.hub.cache_dir),
        },
        "llama_cpp": {
            "version": build.version,
            "system_info": build.system_info,
            "gpu_offload": build.gpu_offload,
            "backends": build.backends,
            "cpu_backend": {
                "dynamic": build.cpu_backend.dynamic,
                "variants": list(build.cpu_backend.variants),
                "loaded": build.cpu_backend.loaded,
            },
        },
        "python": platform.python_version(),
        "executable": sys.executable,
        "packages": {p: _version(p) for p in PACKAGES},
        "store": {"path": str(store.root), "installed": len(store.installed())},
        "hub": {
            "endpoint": store.hub.endpoint,
            "cache_dir": str(store.hub.cache_dir),
            "token": store.hub.token is not None,
        },
        "offline": {"enabled": store.hub.offline, "reason": store.hub.offline_reason},
        "fit_check": fit_check(),
        "fit": [
            {
                "name": f.name,
                "fits": f.fits,
                "ram_needed": f.estimate.total,
                "weights": f.estimate.weights,
                "kv_cache": f.estimate.kv_cache,
                "kv_type": f.estimate.kv_type.value,
                "compute": f.estimate.compute,
                "n_ctx": f.estimate.n_ctx,
                "budget": f.budget,
            }
            for f in judged
        ],
        "recommended": best.name if best else None,
    }


def fit_check() -> dict[str, Any]:
    """How ``run`` and the chat will check memory here (RAM, unified, VRAM or not at all)."""
    from amalia_local.engine import current_machine

    machine = current_machine()
    mode = fit.fit_mode(machine, -1 if machine.gpu_offload else 0)
    return {"mode": mode, "unified_memory": machine.unified_memory, "vram_free": machine.vram_free}


def format_text(data: dict[str, Any], runtime: Runtime) -> list[str]:
    t, num = runtime.t, runtime.numbers
    yes, no = t("common.yes"), t("common.no")
    cpu, mem, disk, llama = data["cpu"], data["memory"], data["disk"], data["llama_cpp"]
    offline = data["offline"]
    packages = ", ".join(f"{k} {v}" for k, v in data["packages"].items() if v)
    rows = [
        (t("doctor.os"), data["os"]["platform"]),
        (t("doctor.cpu"), f"{cpu['model']} ({cpu['arch']})"),
        (t("doctor.features"), _features(cpu["features"], runtime)),
        (t("doctor.cpu_backend"), _cpu_backend(llama["cpu_backend"], runtime)),
        (t("doctor.cores"), f"{cpu['physical_cores']} / {cpu['logical_cpus']}"),
        (
            t("doctor.ram"),
            t(
                "doctor.ram_detail",
                total=num.bytes(mem["total"]),
                available=num.bytes(mem["available"]),
            ),
        ),
        (t("doctor.disk"), f"{num.bytes(disk['store_free'])} ({disk['store']})"),
        (t("doctor.hf_cache"), f"{disk['hf_cache']} ({num.bytes(disk['hf_cache_free'])})"),
        (t("doctor.llama"), f"{llama['version']}: {llama['system_info']}"),
        (
            t("doctor.gpu"),
            (yes + (f" ({', '.join(llama['backends'])})" if llama["backends"] else ""))
            if llama["gpu_offload"]
            else no,
        ),
        (t("doctor.python"), f"{data['python']} ({data['executable']})"),
        (t("doctor.packages"), packages),
        (t("doctor.store"), f"{data['store']['path']} ({data['store']['installed']})"),
        (
            t("doctor.offline"),
            f"{yes} ({offline['reason']})" if offline["enabled"] else no,
        ),
        (
            t("doctor.fit_check"),
            t(
                f"doctor.fit_check.{data['fit_check']['mode']}",
                vram=num.bytes(data["fit_check"]["vram_free"] or 0),
            ),
        ),
    ]
    width = max(len(label) for label, _ in rows)
    lines = [f"{label:<{width}}  {value}" for label, value in rows]
    lines += ["", t("doctor.fit_header", available=num.bytes(mem["available"]))]
    for f in data["fit"]:
        mark = t("list.fits_yes") if f["fits"] else t("list.fits_no")
        lines.append(
            "  "
            + t(
                "doctor.fit_line",
                name=f["name"],
                mark=mark,
                total=num.bytes(f["ram_needed"]),
                weights=num.bytes(f["weights"]),
                kv=num.bytes(f["kv_cache"]),
                kv_type=f["kv_type"],
                n_ctx=num.count(f["n_ctx"]),
                budget=num.bytes(f["budget"]),
            )
        )
    best = data["recommended"]
    lines.append(t("doctor.recommend", name=best) if best else t("doctor.recommend_none"))
    return lines


def _features(features: dict[str, bool], runtime: Runtime) -> str:
    """``AVX2 yes, AVX-512 no``: what is absent matters as much as what is there."""
    if not features:
        return "-"
    yes, no = runtime.t("common.yes"), runtime.t("common.no")
    return ", ".join(f"{name} {yes if ok else no}" for name, ok in features.items())


def _cpu_backend(backend: dict[str, Any], runtime: Runtime) -> str:
    if not backend["dynamic"]:
        return runtime.t("doctor.backend_builtin")
    count = len(backend["variants"])
    if backend["loaded"] is None:
        return runtime.t("doctor.backend_unknown", count=count)
    return runtime.t("doctor.backend_variant", variant=backend["loaded"], count=count)


def doctor(store: ModelStore, runtime: Runtime, out: TextIO, json_output: bool) -> int:
    # Loading a portable build's CPU variant logs from C ("load_backend: loaded CPU
    # backend from ..."): into the log file, as every other llama.cpp line.
    with runtime.open_llama_log():
        data = collect(store)
    if json_output:
        out.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
    else:
        out.write("\n".join(format_text(data, runtime)) + "\n")
    return 0
