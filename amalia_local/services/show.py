"""``amalia show NAME``: what ``amalia info`` prints about the file, plus store facts."""

from __future__ import annotations

import json
from typing import TextIO

from amalia_local.fit import LoadOptions, decide, model_facts, ram_only_machine
from amalia_local.model_file import inspect
from amalia_local.runtime import Runtime
from amalia_local.services.info import describe, format_text
from amalia_local.store import ModelStore


def show(
    name: str,
    n_ctx: int | None,
    json_output: bool,
    store: ModelStore,
    runtime: Runtime,
    out: TextIO,
) -> int:
    installed = store.get(name)
    model = inspect(installed.path)
    # The context and KV type ``run`` would use here, as ``info`` shows them.
    resolved = decide(model_facts(model), LoadOptions(n_ctx=n_ctx), ram_only_machine(), check=False)
    data = describe(model, n_ctx or resolved.n_ctx, resolved.kv_type)
    if json_output:
        out.write(json.dumps({**data, "store": installed.to_json()}, ensure_ascii=False, indent=2))
        out.write("\n")
        return 0
    t = runtime.t
    source = installed.repo or installed.origin or "-"
    if installed.filename:
        source = f"{source} / {installed.filename}"
    rows = [
        (t("show.store_name"), installed.name),
        (t("show.source"), f"{installed.source}: {source}"),
        (t("show.sha256"), installed.sha256),
        (t("show.size"), runtime.numbers.bytes(installed.size)),
        (t("show.installed_at"), installed.installed_at),
        (t("show.path"), installed.path),
    ]
    if installed.commit:
        rows.append((t("show.commit"), installed.commit))
    width = max(len(label) for label, _ in rows)
    lines = format_text(data, runtime) + [""] + [f"{label:<{width}}  {v}" for label, v in rows]
    out.write("\n".join(lines) + "\n")
    return 0
