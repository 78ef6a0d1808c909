"""The "Variety (pt-PT vs pt-BR)" section of report.md, report.json and the model card.

Each rung (the source included) gets its share of pairs won by pt-PT, the drift from
the source in percentage points, the mean log-odds, the same per category, the markers
per 1,000 words of its generated answers, and one sentence a user can act on.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from quant.variety import Variety
from quant.variety_data import CATEGORIES

TITLE = "Variety (pt-PT vs pt-BR)"
# Drift (percentage points of pairs won by pt-PT) beyond which we call a rung's pull
# towards pt-BR slight, then clear. One pair of ~460 is 0.2 points.
SLIGHT_PP = 1.0
CLEAR_PP = 3.0


def drift_pp(variety: Variety, source: Variety | None) -> float | None:
    if source is None:
        return None
    return (variety.overall.share_pt - source.overall.share_pt) * 100


def _worst_category(variety: Variety, source: Variety) -> str:
    drops = {
        c: variety.categories[c].share_pt - source.categories[c].share_pt
        for c in variety.categories
        if c in source.categories
    }
    return min(drops, key=lambda c: drops[c]) if drops else "—"


def advice(name: str, variety: Variety, source: Variety | None) -> str:
    """One sentence a user can act on."""
    share = variety.overall.share_pt * 100
    if source is None or name == "source":
        if share >= 90:
            return (
                f"The source prefers the European form in {share:.1f}% of pairs: it is the "
                "baseline the quantized files are measured against."
            )
        return (
            f"Even the source prefers the European form in only {share:.1f}% of pairs: give "
            "it a pt-PT system prompt and proof-read its texts for Brazilian forms, whatever "
            "the file."
        )
    drift = drift_pp(variety, source) or 0.0
    if drift > -SLIGHT_PP:
        return (
            f"{name} keeps the source's preference for European Portuguese ({share:.1f}% vs "
            f"{source.overall.share_pt * 100:.1f}%): safe to use for pt-PT text."
        )
    worst = _worst_category(variety, source)
    if drift > -CLEAR_PP:
        return (
            f"{name} leans slightly towards Brazilian Portuguese ({drift:+.1f} points, mostly "
            f"{worst}): fine for most uses, but proof-read public texts for Brazilian forms."
        )
    return (
        f"{name} drifts towards Brazilian Portuguese ({drift:+.1f} points, mostly {worst}): "
        "for pt-PT text choose a larger file."
    )


def as_json(name: str, variety: Variety, source: Variety | None) -> dict[str, Any]:
    data = asdict(variety)
    data["drift_pp"] = drift_pp(variety, source)
    data["advice"] = advice(name, variety, source)
    if variety.generation is not None:
        data["generation"]["pt_per_1k_words"] = variety.generation.pt_per_1k
        data["generation"]["br_per_1k_words"] = variety.generation.br_per_1k
    return data


def _pct(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{x * 100:.1f}%"


def method(n_pairs: int, prompts: int, max_tokens: int) -> str:
    return (
        f"Minimal pairs: {n_pairs} sentences on municipal and civic topics, each written in pt-PT "
        "and as a Brazilian would write it, differing only in the variety's markers "
        "(vocabulary, spelling, progressive, clitic placement, address, syntax; "
        "`quant/data/variety_pairs.jsonl`). For each pair the model's total log-probability "
        "of both sentences after the same short context; *pt-PT preferred* is the share of "
        "pairs where the pt-PT sentence is more probable (ties count half), *log-odds* the "
        "mean difference in nats, *drift* the change from the source in percentage points. "
        + (
            f"Generation: greedy answers (up to {max_tokens} tokens, no system prompt) to "
            f"{prompts} pt-PT prompts, with the pt-PT and pt-BR markers of "
            "`quant/data/variety_lexicon.json` counted per 1,000 words.\n"
            if prompts
            else "Generation check: not run (--variety-tokens 0).\n"
        )
    )


def table(rows: Sequence[tuple[str, Variety]], source: Variety | None) -> str:
    header = ["Type", "pt-PT preferred", "Drift", "Log-odds"]
    header += [c.capitalize() for c in CATEGORIES] + ["pt-PT /1k words", "pt-BR /1k words"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for label, v in rows:
        d = drift_pp(v, source)
        gen = v.generation
        cells = [
            label,
            _pct(v.overall.share_pt),
            "—" if d is None or label.endswith("(source)") else f"{d:+.1f} pp",
            f"{v.overall.mean_log_odds:+.2f}",
        ]
        cells += [
            _pct(v.categories[c].share_pt) if c in v.categories else "n/a" for c in CATEGORIES
        ]
        cells += [f"{gen.pt_per_1k:.1f}", f"{gen.br_per_1k:.1f}"] if gen else ["n/a", "n/a"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def section(rows: Sequence[tuple[str, str, Variety]], level: int = 2) -> str:
    """``rows``: (rung name, table label, figures); the source first when present."""
    source = next((v for name, _, v in rows if name == "source"), None)
    hashes = "#" * level
    parts = [f"{hashes} {TITLE}\n", table([(label, v) for _, label, v in rows], source)]
    for name, label, v in rows:
        gen = v.generation
        generated = (
            f" Its answers to the {gen.prompts} prompts had {gen.pt_per_1k:.1f} pt-PT and "
            f"{gen.br_per_1k:.1f} pt-BR markers per 1,000 words ({gen.words:,} words)."
            if gen
            else ""
        )
        parts.append(
            f"{hashes}# {TITLE}: {label}\n\n"
            f"pt-PT preferred in {_pct(v.overall.share_pt)} of {v.overall.n} pairs, mean "
            f"log-odds {v.overall.mean_log_odds:+.2f} nats.{generated} "
            f"{advice(name, v, source)}\n"
        )
    first = rows[0][2]
    gen = first.generation
    parts.append(method(first.overall.n, gen.prompts if gen else 0, gen.max_tokens if gen else 0))
    return "\n".join(parts)
