"""``amalia run``: one question in, one streamed answer out, for scripts and pipes.

The model is a local file or an OpenAI-compatible endpoint; after opening, both are the
same :class:`~amalia_local.chat_model.ChatModel` and the rest of the command is shared.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TextIO

from amalia_local.chat_model import ChatModel
from amalia_local.engine import LoadOptions, SamplingOptions
from amalia_local.remote.spec import EndpointSpec
from amalia_local.runtime import Runtime
from amalia_local.services.loading import open_checked


@dataclass(frozen=True)
class RunRequest:
    model: str | None
    prompt: str
    endpoint: EndpointSpec | None = None
    system: str | None = None
    load: LoadOptions = field(default_factory=LoadOptions)
    sampling: SamplingOptions = field(default_factory=SamplingOptions)
    json_output: bool = False
    force: bool = False  # load even when the model will not fit in available RAM


@contextlib.contextmanager
def open_model(request: RunRequest, runtime: Runtime) -> Iterator[tuple[ChatModel, dict]]:
    """The chosen model, its default system prompt's source and settings for --json."""
    if request.endpoint is not None:
        remote = request.endpoint.open()
        try:
            yield remote, {"endpoint": remote.location}
        finally:
            remote.close()
        return
    from amalia_local.engine.local import LocalModel

    assert request.model is not None
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
        yield (
            LocalModel(engine),
            {
                "n_ctx": engine.options.n_ctx,
                "n_threads": engine.options.n_threads,
                "n_gpu_layers": engine.options.n_gpu_layers,
            },
        )


def run(request: RunRequest, runtime: Runtime, out: TextIO) -> int:
    with open_model(request, runtime) as (model, settings):
        system = request.system
        if system is None:
            system = model.default_system_prompt()
        session = model.new_session(system)
        reply = session.send(request.prompt, request.sampling)
        if request.json_output:
            text = reply.consume()
            payload = {
                "model": model.name,
                "text": text,
                "stats": reply.stats.as_dict(),
                "settings": settings,
            }
            out.write(json.dumps(payload, ensure_ascii=False) + "\n")
        else:
            for chunk in reply:
                out.write(chunk)
                out.flush()
            out.write("\n")
        out.flush()
    return 0
