"""``amalia info``: what a GGUF file is and what it costs to run, without loading it."""

from __future__ import annotations

import json
from typing import Any, TextIO

from amalia_local.engine.space_prefix import rule_from_metadata
from amalia_local.engine.template import ChatTemplate, Message
from amalia_local.errors import ModelFileError
from amalia_local.fit import LoadOptions, decide, estimate, model_facts, ram_only_machine
from amalia_local.kv_type import KvType
from amalia_local.model_file import ModelFile, inspect
from amalia_local.runtime import Runtime


def describe(model: ModelFile, n_ctx: int, kv_type: KvType = KvType.F16) -> dict[str, Any]:
    """Plain data for ``--json`` and for other commands (``show`` in the model store)."""
    ram = estimate(model_facts(model), n_ctx, kv_type)
    return {
        "path": str(model.path),
        "name": model.name,
        "architecture": model.architecture,
        "parameters": model.parameter_count,
        "file_type": model.file_type,
        "tensor_types": model.type_breakdown(),
        "bits_per_weight": round(model.bits_per_weight, 3),
        "file_size": model.size_bytes,
        "context_length": model.context_length,
        "layers": model.block_count,
        "embedding_length": model.embedding_length,
        "heads": model.head_count,
        "kv_heads": model.head_count_kv,
        "vocab_size": model.vocab_size,
        "vocab_type": model.tokenizer_model,
        "special_tokens": {k: {"id": i, "text": t} for k, (i, t) in model.special_tokens().items()},
        "chat_template": model.chat_template is not None,
        "tokenizer": _tokenizer_facts(model),
        "ram": {
            "n_ctx": n_ctx,
            "kv_type": kv_type.value,
            "weights": ram.weights,
            "kv_cache": ram.kv_cache,
            "compute": ram.compute,
            "total": ram.total,
        },
    }


def _tokenizer_facts(model: ModelFile) -> dict[str, Any]:
    """The dummy-prefix rule the engine follows, and where BOS comes from in a chat.

    The engine tokenizes a chat as transformers' ``apply_chat_template`` does: BOS only
    when the template writes it, whatever ``add_bos_token`` says.
    """
    rule = rule_from_metadata(model.metadata)
    specials = model.special_tokens()
    bos_text = specials.get("bos", (0, ""))[1]
    try:
        rendered = ChatTemplate(model.chat_template, bos_token=bos_text).render(
            [Message("user", "Olá")]
        )
        template_bos = bool(bos_text) and rendered.startswith(bos_text)
    except ModelFileError:
        template_bos = False
    return {
        "space_prefix": rule.space_prefix.value if rule else None,
        "space_prefix_source": ("stored" if rule.stored else "inferred") if rule else "native",
        "chat_bos": {
            "engine": template_bos,
            "template": template_bos,
            "add_bos_token": bool(model.get("tokenizer.ggml.add_bos_token", False)),
        },
    }


def format_text(data: dict[str, Any], runtime: Runtime) -> list[str]:
    t, num = runtime.t, runtime.numbers
    types = (
        ", ".join(
            f"{name} {count / data['parameters']:.0%}"
            for name, count in data["tensor_types"].items()
        )
        if data["parameters"]
        else "-"
    )
    specials = (
        ", ".join(f"{k}={v['id']} {v['text']!r}" for k, v in data["special_tokens"].items()) or "-"
    )
    ram = data["ram"]
    rows = [
        (t("info.name"), data["name"]),
        (t("info.architecture"), data["architecture"]),
        (
            t("info.parameters"),
            f"{num.short(data['parameters'])} ({num.count(data['parameters'])})",
        ),
        (t("info.quantization"), f"{data['file_type'] or '-'} ({types})"),
        (t("info.bits_per_weight"), num.decimal(data["bits_per_weight"], 2)),
        (t("info.file_size"), num.bytes(data["file_size"])),
        (t("info.context_length"), num.count(data["context_length"])),
        (t("info.layers"), f"{data['layers']} / {data['heads']} / {data['kv_heads']}"),
        (t("info.vocabulary"), f"{num.count(data['vocab_size'])} ({data['vocab_type']})"),
        (t("info.special_tokens"), specials),
        (t("info.chat_template"), t("common.yes") if data["chat_template"] else t("info.chatml")),
        (t("info.tokenizer"), _prefix_text(data["tokenizer"], runtime)),
        (t("info.bos"), _bos_text(data["tokenizer"]["chat_bos"], runtime)),
        (
            t("info.ram", n_ctx=num.count(ram["n_ctx"])),
            t(
                "info.ram_detail",
                total=num.bytes(ram["total"]),
                weights=num.bytes(ram["weights"]),
                kv=num.bytes(ram["kv_cache"]),
                kv_type=ram.get("kv_type", KvType.F16.value),
                compute=num.bytes(ram["compute"]),
            ),
        ),
    ]
    width = max(len(label) for label, _ in rows)
    return [f"{label:<{width}}  {value}" for label, value in rows]


def _prefix_text(tok: dict[str, Any], runtime: Runtime) -> str:
    if tok["space_prefix"] is None:
        return runtime.t("info.prefix_native")
    source = runtime.t(f"info.prefix_{tok['space_prefix_source']}")
    return runtime.t("info.prefix_rule", rule=tok["space_prefix"], source=source)


def _bos_text(bos: dict[str, bool], runtime: Runtime) -> str:
    def yes_no(value: bool) -> str:
        return runtime.t("common.yes" if value else "common.no")

    return runtime.t(
        "info.bos_detail",
        engine=yes_no(bos["engine"]),
        template=yes_no(bos["template"]),
        flag=yes_no(bos["add_bos_token"]),
    )


def info(
    path: str,
    n_ctx: int | None,
    json_output: bool,
    runtime: Runtime,
    out: TextIO,
    kv_type: KvType | None = None,
) -> int:
    model = inspect(path, runtime.locations.cache_dir)
    request = LoadOptions(n_ctx=n_ctx, kv_type=kv_type)
    resolved = decide(model_facts(model), request, ram_only_machine(), check=False)
    data = describe(model, n_ctx or resolved.n_ctx, resolved.kv_type)
    if json_output:
        out.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
    else:
        out.write("\n".join(format_text(data, runtime)) + "\n")
    return 0
