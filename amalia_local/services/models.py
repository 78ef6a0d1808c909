"""Which models the chat can offer, where a model reference points, and getting one.

The chat UI only calls :class:`ModelSource`: the model store (installed models, the
catalogue, pulls) stays behind it, so screens never learn how models are stored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from amalia_local.config import Config
from amalia_local.formatting import NumberFormat
from amalia_local.locations import Locations


@dataclass(frozen=True)
class ModelChoice:
    """One entry of the model picker: what to show and what to open."""

    label: str
    reference: str  # what resolve() and Config.model take: a store name or a path


@dataclass(frozen=True)
class Offer:
    """A catalogue model this app can download, with what it costs."""

    name: str  # the store name pull() takes, e.g. "amalia:q4_k_m"
    label: str
    ram_needed: int
    fits: bool


class ModelSource:
    """Installed models, loose GGUF files and the catalogue, for the chat screens."""

    def __init__(
        self, locations: Locations, *, offline: bool = False, config_offline: bool = False
    ) -> None:
        self._locations = locations
        self._offline = offline  # --offline on the command line
        self._config_offline = config_offline  # offline = true in config.toml

    def _store(self):
        # Opened per call: the index is a small file, and another process (amalia pull)
        # may have changed it since the app started. HF_HUB_OFFLINE is read there too.
        from amalia_local.store import ModelStore

        return ModelStore.open(
            self._locations, offline=self._offline, config_offline=self._config_offline
        )

    def resolve(self, reference: str) -> str:
        """A file path for a store name or a path; raises the store's typed errors."""
        return self._store().resolve_path(reference)

    def choices(
        self, config: Config, *extra: str | None, numbers: NumberFormat
    ) -> list[ModelChoice]:
        """Installed models first, then the configured and given files not in the store."""
        choices: list[ModelChoice] = []
        seen: set[str] = set()
        for model in self._store().installed():
            if model.exists:
                choices.append(
                    ModelChoice(f"{model.name} ({numbers.bytes(model.size)})", model.name)
                )
                seen.update({model.name, str(Path(model.path))})
        for reference in (config.model, *extra):
            if not reference or reference in seen:
                continue
            path = Path(reference).expanduser()
            if path.is_file() and str(path) not in seen:
                seen.update({reference, str(path)})
                choices.append(ModelChoice(path.name, str(path)))
        return choices

    def default_installed(self) -> str | None:
        """The model to open when none is configured but some are installed."""
        for model in self._store().installed():
            if model.exists:
                return model.name
        return None

    def offers(self, available_ram: int, numbers: NumberFormat) -> list[Offer]:
        """Every catalogue quantization, in catalogue order, with its RAM estimate."""
        from amalia_local import fit

        return [
            Offer(
                name=f.name,
                label=f"{f.entry.title} · {f.quant.tag.upper()} · {numbers.bytes(f.quant.size)}",
                ram_needed=f.estimate.total,
                fits=f.fits,
            )
            for f in fit.assess(available_ram)
        ]

    def pull(self, name: str, progress: Callable[[int, int | None], None]) -> str:
        """Download and verify ``name``; returns the store name to open. Blocking."""
        return self._store().pull(name, progress).model.name
