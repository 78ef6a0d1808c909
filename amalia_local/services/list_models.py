"""``amalia list``: installed models; ``--available`` the catalogue, marking what fits."""

from __future__ import annotations

import json
from typing import TextIO

from amalia_local import fit
from amalia_local.runtime import Runtime
from amalia_local.store import ModelStore


def table(rows: list[list[str]]) -> list[str]:
    """Left-aligned columns two spaces apart (the style of ``ollama list``)."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]


def list_installed(store: ModelStore, runtime: Runtime, out: TextIO, json_output: bool) -> int:
    models = store.installed()
    if json_output:
        payload = [{**m.to_json(), "present": m.exists} for m in models]
        out.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
        return 0
    t = runtime.t
    if not models:
        out.write(t("list.empty") + "\n")
        return 0
    rows = [[t("list.name"), t("list.size"), t("list.source"), t("list.installed")]]
    for m in models:
        source = m.repo or m.origin or "-"
        size = runtime.numbers.bytes(m.size) if m.exists else t("list.missing")
        rows.append([m.name, size, source, m.installed_at.replace("T", " ")[:16]])
    out.write("\n".join(table(rows)) + "\n")
    return 0


def list_available(
    store: ModelStore, runtime: Runtime, out: TextIO, json_output: bool, available_ram: int
) -> int:
    installed = {m.name for m in store.installed()}
    judged = fit.assess(available_ram, store.catalogue.entries)
    if json_output:
        payload = [
            {
                "name": f.name,
                "title": f.entry.title,
                "repo": f.entry.repo,
                "file": f.quant.file,
                "size": f.quant.size,
                "license": f.entry.license,
                "description": f.entry.describe(runtime.translator.lang),
                "ram_needed": f.estimate.total,
                "n_ctx": f.estimate.n_ctx,
                "fits": f.fits,
                "installed": f.name in installed,
            }
            for f in judged
        ]
        out.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
        return 0
    t = runtime.t
    rows = [[t("list.name"), t("list.size"), t("list.ram"), t("list.fits"), ""]]
    for f in judged:
        rows.append(
            [
                f.name,
                runtime.numbers.bytes(f.quant.size),
                runtime.numbers.bytes(f.estimate.total),
                t("list.fits_yes") if f.fits else t("list.fits_no"),
                t("list.installed_mark") if f.name in installed else "",
            ]
        )
    out.write("\n".join(table(rows)) + "\n")
    out.write(t("list.available_note", available=runtime.numbers.bytes(available_ram)) + "\n")
    for entry in store.catalogue.entries:
        line = f"{entry.name}: {entry.describe(runtime.translator.lang)} ({entry.license})"
        out.write(line + "\n")
    return 0
