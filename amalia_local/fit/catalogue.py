"""Which catalogue quantizations fit this machine: answered before a 10-minute download.

``doctor``, ``list --available`` and the first-run screen's offers (what ``pull`` then
fetches) judge each quantization with the same formula and KV choice as ``run``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from amalia_local.fit.facts import Machine, catalogue_facts
from amalia_local.fit.memory import RamEstimate, budget, estimate
from amalia_local.fit.settings import default_context, default_kv_type
from amalia_local.kv_type import KvType

if TYPE_CHECKING:  # the store package (Hub client included) loads only when judged
    from amalia_local.store.catalogue import Entry, Quant


@dataclass(frozen=True)
class Fit:
    """One catalogue quantization judged against the available RAM."""

    entry: Entry
    quant: Quant
    estimate: RamEstimate
    available_ram: int
    fits: bool

    @property
    def name(self) -> str:
        return f"{self.entry.name}:{self.quant.tag}"

    @property
    def budget(self) -> int:
        """RAM we allow a model to take: the rest is for the OS, the UI and page cache."""
        return budget(self.available_ram)


def judge(entry: Entry, quant: Quant, available_ram: int, kv_type: KvType | None = None) -> Fit:
    """One quantization at its default context, with the KV type ``run`` would pick here
    (``kv_type`` when the user chose one)."""
    model = catalogue_facts(entry, quant)
    ctx = default_context(model)
    est = estimate(model, ctx, kv_type or default_kv_type(model, available_ram, ctx))
    return Fit(entry, quant, est, available_ram, fits=est.total <= budget(available_ram))


def assess(
    available_ram: int,
    entries: tuple[Entry, ...] | None = None,
    kv_type: KvType | None = None,
) -> list[Fit]:
    """Every catalogue quantization with its RAM estimate and whether it fits.

    Order: catalogue order (the default model first), the default quantization first,
    then larger (better) quantizations before smaller ones.
    """
    if entries is None:
        from amalia_local.store.catalogue import entries as catalogue_entries

        entries = catalogue_entries()
    fits: list[Fit] = []
    for entry in entries:
        quants = sorted(entry.quants, key=lambda q: (q.tag != entry.default_quant, -q.size))
        fits.extend(judge(entry, quant, available_ram, kv_type) for quant in quants)
    return fits


def recommend(
    available: int | Machine,
    entries: tuple[Entry, ...] | None = None,
    kv_type: KvType | None = None,
) -> list[Fit]:
    """What this machine can run comfortably, best first; empty when nothing fits.

    ``available`` is the RAM in bytes or a ``Machine`` (``engine.current_machine()``).
    """
    ram = available.available_ram if isinstance(available, Machine) else available
    return [f for f in assess(ram, entries, kv_type) if f.fits]
