"""The served model as /v1/models describes it, with what clients read from there.

``created`` is the model file's modification time (stable across restarts and
requests: some clients cache the list and compare). The context a request may use is
given under the names clients look for: ``context_length`` (OpenRouter's, read by
many tools), ``max_model_len`` (vLLM's) and llama-server's ``meta.n_ctx``, so a client
can decide how much history to send without a failed request first.
"""

from __future__ import annotations

import os
import time
from typing import Any

from amalia_local.server.host import ModelHost

OWNER = "amalia-local"


def model_card(host: ModelHost) -> dict[str, Any]:
    try:
        created = int(os.stat(host.settings.model_path).st_mtime)
    except OSError:  # the file went away after loading: still this model
        created = int(time.time())
    n_ctx = host.plan.n_ctx_per_seq
    return {
        "id": host.name,
        "object": "model",
        "created": created,
        "owned_by": OWNER,
        "context_length": n_ctx,
        "max_model_len": n_ctx,
        "meta": {"n_ctx": n_ctx},
    }
