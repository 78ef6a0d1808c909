"""What Ollama's ``/api/tags``, ``/api/show`` and ``/api/ps`` say about the served model.

Built from the GGUF header (ModelFile) and the host's figures, never from the weights.
Tools size the history they send from the context length given here (Zed and VS Code
read ``model_info["<arch>.context_length"]``, newer clients ``/api/ps``'s
``context_length``), so both give the context a request really has on this server
(``--ctx`` / ``--parallel``), not the one the model was trained with: history sized for
8,192 tokens would not fit a 4,096-token slot.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from amalia_local.engine import SamplingOptions
from amalia_local.model_file import ModelFile

# The version of Ollama's API these endpoints follow (clients check a minimum version
# before using an endpoint; VS Code asks for 0.6.4).
OLLAMA_API_VERSION = "0.12.0"
# Ollama's own expiry for a model kept forever is its largest duration away.
_FOREVER = timedelta(days=292 * 365)
# Header values longer than this are left out of model_info (no such scalar is useful).
_MAX_INFO_TEXT = 1024


def timestamp(moment: datetime | None = None) -> str:
    """RFC 3339 in UTC, as Ollama writes ``created_at``."""
    moment = moment or datetime.now(UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def modified_at(model: ModelFile) -> str:
    return timestamp(datetime.fromtimestamp(model.path.stat().st_mtime, UTC))


def digest(model: ModelFile) -> str:
    """An identity of the file as served (name, size, time), not a hash of its gigabytes:
    clients compare digests to notice a changed model, which this does as well."""
    stat = model.path.stat()
    identity = f"{model.path.name}|{stat.st_size}|{stat.st_mtime_ns}"
    return hashlib.sha256(identity.encode("utf-8")).hexdigest()


def parameter_size(count: int) -> str:
    if count >= 1_000_000_000:
        return f"{count / 1e9:.1f}B"
    if count >= 1_000_000:
        return f"{count / 1e6:.0f}M"
    return str(count)


def details(model: ModelFile) -> dict[str, Any]:
    return {
        "parent_model": "",
        "format": "gguf",
        "family": model.architecture,
        "families": [model.architecture],
        "parameter_size": parameter_size(model.parameter_count),
        "quantization_level": model.file_type or "unknown",
    }


def tag(name: str, model: ModelFile) -> dict[str, Any]:
    """One entry of ``/api/tags``."""
    return {
        "name": name,
        "model": name,
        "modified_at": modified_at(model),
        "size": model.size_bytes,
        "digest": digest(model),
        "details": details(model),
    }


def parameters(n_ctx: int) -> dict[str, float | int]:
    """The sampling a request gets when its ``options`` say nothing (the chat's own)."""
    defaults = SamplingOptions()
    return {
        "temperature": defaults.temperature,
        "top_p": defaults.top_p,
        "top_k": defaults.top_k,
        "min_p": defaults.min_p,
        "repeat_penalty": defaults.repeat_penalty,
        "num_ctx": n_ctx,
    }


def show(model: ModelFile, n_ctx: int) -> dict[str, Any]:
    """``/api/show``: the header's scalar facts, the chat template, the defaults."""
    info: dict[str, Any] = {
        key: value
        for key, value in model.metadata.items()
        if isinstance(value, bool | int | float | str)
        and len(str(value)) <= _MAX_INFO_TEXT
        and key != "tokenizer.chat_template"
    }
    info["general.parameter_count"] = model.parameter_count
    info[f"{model.architecture}.context_length"] = n_ctx
    params = parameters(n_ctx)
    lines = "\n".join(f"{key} {value}" for key, value in params.items())
    modelfile = f"# Served by amalia serve\nFROM {model.path.name}\n" + "".join(
        f"PARAMETER {key} {value}\n" for key, value in params.items()
    )
    return {
        "license": str(model.get("general.license", "")),
        "modelfile": modelfile,
        "parameters": lines,
        "template": model.chat_template or "",
        "details": details(model),
        "model_info": info,
        "capabilities": ["completion"],
        "modified_at": modified_at(model),
    }


def running(name: str, model: ModelFile, n_ctx: int, unloads_in: float | None) -> dict[str, Any]:
    """One entry of ``/api/ps``: the model is loaded; when it would unload if left idle."""
    now = datetime.now(UTC)
    expires = now + (_FOREVER if unloads_in is None else timedelta(seconds=unloads_in))
    return {
        **tag(name, model),
        "expires_at": timestamp(expires),
        "size_vram": 0,
        "context_length": n_ctx,
    }
