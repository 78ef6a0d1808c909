"""``amalia chat``: settings in, the Textual app run, an exit code out.

Only Textual and our own light modules are imported before the first screen is drawn;
llama.cpp is imported by the worker that loads the model, so the window appears fast.
"""

from __future__ import annotations

from dataclasses import dataclass

from amalia_local.i18n import Translator
from amalia_local.remote.spec import EndpointSpec
from amalia_local.runtime import Runtime


@dataclass(frozen=True)
class ChatRequest:
    model: str | None = None
    n_ctx: int | None = None
    n_threads: int | None = None
    n_gpu_layers: int | None = None
    language_forced: bool = False  # --lang given: it beats the language in the settings
    force: bool = False  # --force: load even when the model will not fit in available RAM
    offline: bool = False  # --offline: no screen may reach the network (pulls included)
    kv_type: str | None = None  # --kv-type
    endpoint: EndpointSpec | None = None  # --endpoint: a server's model, nothing loaded here


def build_app(request: ChatRequest, runtime: Runtime):
    """The app for a request, not yet running (tests and benchmarks drive it headless)."""
    from amalia_local.tui.app import AmaliaApp, LoadOverrides

    config = runtime.config
    if config.language and not request.language_forced:
        runtime.translator = Translator(config.language)
    overrides = LoadOverrides(
        request.n_ctx,
        request.n_threads,
        request.n_gpu_layers,
        force=request.force,
        kv_type=request.kv_type,
    )
    return AmaliaApp(
        runtime,
        config,
        request.model,
        overrides,
        offline=request.offline,
        endpoint=request.endpoint,
    )


def run_chat(request: ChatRequest, runtime: Runtime) -> int:
    build_app(request, runtime).run()
    return 0
