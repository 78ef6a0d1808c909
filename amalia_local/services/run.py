"""``amalia run``: one question in, one streamed answer out, for scripts and pipes."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TextIO

from amalia_local.engine import ChatSession, LoadOptions, SamplingOptions
from amalia_local.prompts import default_system_prompt
from amalia_local.runtime import Runtime
from amalia_local.services.loading import notice_lines, open_checked


@dataclass(frozen=True)
class RunRequest:
    model: str
    prompt: str
    system: str | None = None
    load: LoadOptions = field(default_factory=LoadOptions)
    sampling: SamplingOptions = field(default_factory=SamplingOptions)
    json_output: bool = False
    force: bool = False  # load even when the model will not fit in available RAM


def run(request: RunRequest, runtime: Runtime, out: TextIO, err: TextIO | None = None) -> int:
    with (
        runtime.open_llama_log() as log,
        open_checked(
            request.model,
            request.load,
            log,
            force=request.force,
            cache_dir=runtime.locations.cache_dir,
        ) as engine,
    ):
        for line in notice_lines(engine.options, runtime):
            if err is not None:
                err.write(f"amalia: {line}\n")
        system = request.system
        if system is None:
            system = default_system_prompt(engine.model_file)
        session = ChatSession(engine, system_prompt=system)
        reply = session.send(request.prompt, request.sampling)
        if request.json_output:
            text = reply.consume()
            payload = {
                "model": engine.model_file.name,
                "text": text,
                "stats": {
                    **reply.stats.as_dict(),
                    "reduced": [r.as_dict() for r in engine.options.reductions],
                },
                "settings": {
                    "n_ctx": engine.options.n_ctx,
                    "n_threads": engine.options.n_threads,
                    "n_gpu_layers": engine.options.n_gpu_layers,
                    "fit_check": engine.options.fit_check or None,
                },
            }
            out.write(json.dumps(payload, ensure_ascii=False) + "\n")
        else:
            for chunk in reply:
                out.write(chunk)
                out.flush()
            out.write("\n")
        out.flush()
    return 0
