"""The served model: loaded on demand, shared by every request, unloaded when idle.

Like Ollama's keep-alive, a model nobody has used for ``idle_unload_s`` seconds gives
its memory back and is loaded again by the next request. Loading, submitting and
unloading take one lock, so a request never meets a half-closed model.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from amalia_local.engine import Engine
from amalia_local.engine.batch import BatchGenerator, Sequence, SequenceRequest, Sink
from amalia_local.engine.options import MIN_CONTEXT, LoadOptions, resolve
from amalia_local.llama_log import LlamaLogSink
from amalia_local.model_file import inspect
from amalia_local.server.sizing import ServePlan, plan_serving
from amalia_local.store.fit import ensure_fits

# Builds the request for the loaded engine: templates and tokenization need the model.
RequestBuilder = Callable[[Engine, int], SequenceRequest]


@dataclass(frozen=True)
class HostSettings:
    model_path: str
    name: str  # the id clients send as "model"
    load: LoadOptions
    parallel: int | None = None
    max_queue: int = 64
    idle_unload_s: float | None = None
    force: bool = False


class ModelHost:
    def __init__(
        self,
        settings: HostSettings,
        log: LlamaLogSink,
        *,
        cache_dir=None,
        machine_probe: Callable[[], object] | None = None,
    ) -> None:
        from amalia_local.engine import current_machine

        self.settings = settings
        self._log = log
        self._cache_dir = cache_dir
        self._machine = machine_probe or current_machine
        self._lock = threading.Lock()
        self._engine: Engine | None = None
        self._generator: BatchGenerator | None = None
        self._last_used = time.monotonic()
        self._stop = threading.Event()
        self.plan: ServePlan = self._plan()
        self.loads = 0  # how many times the model was loaded (tests, logs)
        self._watcher: threading.Thread | None = None
        if settings.idle_unload_s:
            self._watcher = threading.Thread(target=self._watch_idle, daemon=True)
            self._watcher.start()

    @property
    def name(self) -> str:
        return self.settings.name

    def _plan(self) -> ServePlan:
        model_file = inspect(self.settings.model_path, self._cache_dir)
        machine = self._machine()
        plan = plan_serving(model_file, self.settings.load, self.settings.parallel, machine)
        if not self.settings.force and plan.n_gpu_layers == 0:
            ensure_fits(model_file, plan.n_ctx_per_seq * plan.n_parallel, machine.available_ram)
        return plan

    # --- loading ----------------------------------------------------------------------------
    def load(self) -> BatchGenerator:
        with self._lock:
            return self._loaded()

    def _loaded(self) -> BatchGenerator:
        if self._generator is None:
            model_file = inspect(self.settings.model_path, self._cache_dir)
            machine = self._machine()
            # The engine's own context only tokenizes here: the smallest one will do.
            engine_load = LoadOptions(
                n_ctx=MIN_CONTEXT,
                n_threads=self.plan.n_threads,
                n_gpu_layers=self.plan.n_gpu_layers,
            )
            engine = Engine(model_file, resolve(model_file, engine_load, machine), self._log)
            try:
                self._generator = BatchGenerator(
                    engine,
                    self.plan.n_parallel,
                    self.plan.n_ctx_per_seq,
                    max_queue=self.settings.max_queue,
                )
            except BaseException:
                engine.close()
                raise
            self._engine = engine
            self.loads += 1
        self._last_used = time.monotonic()
        return self._generator

    def submit(self, build: RequestBuilder, sink: Sink) -> Sequence:
        """Load if needed, build the request against the engine, queue it."""
        with self._lock:
            generator = self._loaded()
            request = build(generator.engine, generator.n_ctx_per_seq)
            return generator.submit(request, sink)

    def status(self) -> dict[str, object]:
        with self._lock:
            busy, waiting = self._generator.load() if self._generator else (0, 0)
        return {
            "loaded": self._generator is not None,
            "slots_total": self.plan.n_parallel,
            "slots_processing": busy,
            "slots_idle": self.plan.n_parallel - busy,
            "requests_waiting": waiting,
            "n_ctx_per_request": self.plan.n_ctx_per_seq,
        }

    # --- unloading ------------------------------------------------------------------------
    def _watch_idle(self) -> None:
        idle = float(self.settings.idle_unload_s or 0)
        while not self._stop.wait(min(5.0, max(0.05, idle / 4))):
            with self._lock:
                if self._generator is None or self._generator.load() != (0, 0):
                    self._last_used = time.monotonic()
                    continue
                if time.monotonic() - self._last_used >= idle:
                    self._unload()

    def _unload(self) -> None:
        generator, engine = self._generator, self._engine
        self._generator = self._engine = None
        if generator is not None:
            generator.close()
        if engine is not None:
            engine.close()

    def close(self) -> None:
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join()
        with self._lock:
            self._unload()
