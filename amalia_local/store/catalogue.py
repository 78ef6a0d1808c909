"""The catalogue of models amalia-local knows by name, read from package data.

It is data (``amalia_local/data/catalogue.json``), not code, so pointing ``amalia`` at
an official repository later is a one-line edit. A quantization may omit ``file``: the
file is then picked from the repository's listing by its quant tag, as llama.cpp's
``-hf`` does, which keeps the catalogue valid when a repo renames its files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

CATALOGUE_RESOURCE = ("data", "catalogue.json")


@dataclass(frozen=True)
class Architecture:
    """The few shape facts needed to estimate RAM before anything is downloaded."""

    parameters: int
    layers: int
    embedding: int
    heads: int
    kv_heads: int
    head_dim: int
    vocab: int
    context: int


@dataclass(frozen=True)
class Quant:
    tag: str  # lower case, e.g. "q4_k_m"
    size: int  # bytes, as published on the Hub (approximate until pulled)
    file: str | None = None  # None: matched by tag in the repository listing


@dataclass(frozen=True)
class Entry:
    """One model of the catalogue with all its quantizations."""

    name: str
    aliases: tuple[str, ...]
    title: str
    repo: str
    revision: str
    license: str
    description: dict[str, str]
    architecture: Architecture
    default_quant: str
    quants: tuple[Quant, ...]

    def quant(self, tag: str | None) -> Quant | None:
        wanted = (tag or self.default_quant).lower()
        return next((q for q in self.quants if q.tag == wanted), None)

    def describe(self, lang: str) -> str:
        return self.description.get(lang) or self.description.get("en", "")


@dataclass(frozen=True)
class Catalogue:
    default: str
    entries: tuple[Entry, ...]

    def get(self, name: str) -> Entry | None:
        """The entry called ``name`` or one of its aliases (case-insensitive)."""
        wanted = name.lower()
        for entry in self.entries:
            if wanted == entry.name or wanted in entry.aliases:
                return entry
        return None

    def by_file(self, repo: str, filename: str) -> tuple[Entry, Quant] | None:
        """The catalogue name of a Hub file, so ``hf:`` pulls of it are not stored twice."""
        for entry in self.entries:
            if entry.repo.lower() != repo.lower():
                continue
            for quant in entry.quants:
                if quant.file == filename:
                    return entry, quant
        return None


def parse(raw: dict[str, Any]) -> Catalogue:
    """Build a catalogue from its JSON form; raises ValueError naming the bad field."""
    entries = []
    for item in raw["models"]:
        quants = tuple(
            Quant(tag=q["tag"].lower(), size=int(q["size"]), file=q.get("file"))
            for q in item["quants"]
        )
        entry = Entry(
            name=item["name"].lower(),
            aliases=tuple(a.lower() for a in item.get("aliases", ())),
            title=item["title"],
            repo=item["repo"],
            revision=item.get("revision", "main"),
            license=item["license"],
            description=dict(item["description"]),
            architecture=Architecture(**item["architecture"]),
            default_quant=item["default_quant"].lower(),
            quants=quants,
        )
        if entry.quant(None) is None:
            raise ValueError(f"{entry.name}: default_quant {entry.default_quant} is not listed")
        entries.append(entry)
    catalogue = Catalogue(default=raw["default"], entries=tuple(entries))
    if catalogue.get(catalogue.default) is None:
        raise ValueError(f"default model {catalogue.default} is not in the catalogue")
    return catalogue


def load() -> Catalogue:
    """The catalogue shipped with this version of amalia-local."""
    text = resources.files("amalia_local").joinpath(*CATALOGUE_RESOURCE).read_text("utf-8")
    return parse(json.loads(text))


def entries() -> tuple[Entry, ...]:
    """Every catalogue model, the default first: what a first-run screen offers."""
    catalogue = load()
    return tuple(sorted(catalogue.entries, key=lambda e: e.name != catalogue.default))
