"""Opening a model for a command or the chat: settings, validation, context, fit.

One place for ``run``, ``bench`` and the chat: the same settings (``config.toml``, with
command-line flags winning), the same refusal of a model that would not fit, the same
``--force``, and the same one-line notice for every setting that had to be reduced.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from amalia_local.engine.options import SamplingOptions

if TYPE_CHECKING:
    # The settings helpers serve --endpoint too, which loads no llama.cpp and, to reach
    # its first token soon, not the fit rules either: those are imported where used.
    from pathlib import Path

    from amalia_local.config import Config
    from amalia_local.engine.llama_log import LlamaLogSink
    from amalia_local.engine.model import Engine
    from amalia_local.fit import LoadOptions, Machine, ResolvedOptions
    from amalia_local.runtime import Runtime


def load_options(
    config: Config,
    *,
    n_ctx: int | None = None,
    n_threads: int | None = None,
    n_gpu_layers: int | None = None,
    kv_type: str | None = None,
) -> LoadOptions:
    """Flags (not None) over the settings file; None left means "pick for me"."""
    from amalia_local.fit import LoadOptions
    from amalia_local.kv_type import from_setting

    return LoadOptions(
        n_ctx=n_ctx if n_ctx is not None else config.n_ctx,
        n_threads=n_threads if n_threads is not None else config.threads,
        n_gpu_layers=n_gpu_layers if n_gpu_layers is not None else config.gpu_layers,
        kv_type=from_setting(kv_type or config.kv_type),
    )


def sampling_options(
    config: Config,
    *,
    temperature: float | None = None,
    top_p: float | None = None,
    top_k: int | None = None,
    max_tokens: int | None = None,
    seed: int | None = None,
) -> SamplingOptions:
    defaults = SamplingOptions()
    return SamplingOptions(
        temperature=temperature if temperature is not None else config.temperature,
        top_p=top_p if top_p is not None else config.top_p,
        top_k=top_k if top_k is not None else defaults.top_k,
        max_tokens=max_tokens if max_tokens is not None else config.max_tokens,
        seed=seed,
    )


def system_prompt(config: Config, flag: str | None) -> str | None:
    """``--system`` over the settings; None lets the model's default (pt-PT for AMALIA)
    apply, an empty string means no system prompt at all."""
    return flag if flag is not None else config.system_prompt


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
    from amalia_local.engine.model import Engine, current_machine
    from amalia_local.fit import decide, model_facts
    from amalia_local.model_file import inspect  # gguf and numpy: only to open a file

    model_file = inspect(model, cache_dir)
    machine = machine or current_machine()
    options = decide(model_facts(model_file), load, machine, check=not force)
    return Engine(model_file, options, log, state_dir, state_budget)


def notice_lines(options: ResolvedOptions, runtime: Runtime) -> list[str]:
    """One translated line per reduced setting, and one if the fit could not be checked."""
    from amalia_local.fit import FIT_UNCHECKED

    lines = [
        runtime.t(
            f"notice.{r.setting}.{r.reason}",
            asked=runtime.translator.number(r.asked),
            used=runtime.translator.number(r.used),
        )
        for r in options.reductions
    ]
    if options.kv_reason == "ram":
        lines.append(
            runtime.t("notice.kv_type_ram", n_ctx=runtime.translator.number(options.n_ctx))
        )
    if options.fit_check == FIT_UNCHECKED:
        lines.append(runtime.t("notice.fit.unchecked"))
    return lines


def state_budget_bytes(gigabytes: float) -> int:
    """The ``state_cache_gb`` setting in bytes (negative counts as off)."""
    return max(0, int(gigabytes * 10**9))
