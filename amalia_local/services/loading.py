"""Opening a model for a command or the chat: validate, size the context, check it fits.

One function for ``run`` and ``chat`` so both refuse a model that would not fit in RAM
the same way, with the same message, and both accept ``--force``.
"""

from __future__ import annotations

from pathlib import Path

from amalia_local.engine import Engine, LoadOptions, current_machine
from amalia_local.engine.options import Machine, resolve
from amalia_local.llama_log import LlamaLogSink
from amalia_local.model_file import inspect
from amalia_local.store.fit import ensure_fits


def open_checked(
    model: str,
    load: LoadOptions,
    log: LlamaLogSink,
    *,
    force: bool = False,
    cache_dir: Path | None = None,
    machine: Machine | None = None,
    state_dir: Path | None = None,
    state_budget: int = 0,
) -> Engine:
    """Engine.open, but refuse a model that cannot fit at the chosen context first:
    llama.cpp would otherwise swap until the machine looks frozen.

    ``state_dir``/``state_budget``: where and how much KV state to save (0: none).
    """
    model_file = inspect(model, cache_dir)
    machine = machine or current_machine()
    options = resolve(model_file, load, machine)
    if not force and options.n_gpu_layers == 0:
        ensure_fits(model_file, options.n_ctx, machine.available_ram, kv_type=options.kv_type)
    return Engine(model_file, options, log, state_dir, state_budget)


def state_budget_bytes(gigabytes: float) -> int:
    """The ``state_cache_gb`` setting in bytes (negative counts as off)."""
    return max(0, int(gigabytes * 10**9))
