"""Which models the chat can offer, and what a model reference on the command line means.

Until the model store exists the choices are the file given on the command line, the
one in the config and the models recent conversations used. The store will add its
installed models in :func:`model_choices` and resolve names in :func:`resolve_model`:
the UI only ever calls these two functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from amalia_local.config import Config


@dataclass(frozen=True)
class ModelChoice:
    """One entry of the model picker: what to show and what to open."""

    label: str
    reference: str  # what Engine.open and Config.model take


def resolve_model(reference: str | None) -> str | None:
    """A path for a model reference, or None when there is nothing to open."""
    if not reference:
        return None
    return str(Path(reference).expanduser())


def model_choices(config: Config, *extra: str | None) -> list[ModelChoice]:
    """Distinct models, the configured one first; files that vanished are left out."""
    seen: set[str] = set()
    choices: list[ModelChoice] = []
    for reference in (config.model, *extra):
        path = resolve_model(reference)
        if path is None or path in seen or not Path(path).is_file():
            continue
        seen.add(path)
        choices.append(ModelChoice(label=Path(path).name, reference=path))
    return choices
