"""What a model name means: a catalogue entry, any Hub file, or a model imported by hand.

    amalia                       catalogue entry, its default quantization
    amalia:q8_0                  catalogue entry, one quantization
    hf:OWNER/REPO                a Hub repo, the Q4_K_M file (llama.cpp's -hf default)
    hf:OWNER/REPO:Q5_K_M         a Hub repo, the file whose name carries that quant tag
    hf:OWNER/REPO/FILE.gguf      one exact Hub file
    my-model                     a name given with ``amalia import --name``

Parsing is pure (no network, no disk) so it can be tested exhaustively and used by the
offline path before anything else happens.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from amalia_local.store.catalogue import Catalogue, Entry, Quant
from amalia_local.store.errors import BadNameError, UnknownModelError

HF_PREFIX = "hf:"
DEFAULT_HUB_QUANT = "q4_k_m"  # what llama.cpp's -hf picks when no tag is given
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_TAG = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9._-]+$")


@dataclass(frozen=True)
class CatalogueRef:
    entry: Entry
    quant: Quant

    @property
    def store_name(self) -> str:
        return f"{self.entry.name}:{self.quant.tag}"


@dataclass(frozen=True)
class HubRef:
    """A Hub file, either exact (``filename``) or to be matched by ``quant``."""

    repo: str
    filename: str | None = None
    quant: str | None = None
    revision: str = "main"

    def with_file(self, filename: str) -> HubRef:
        return HubRef(self.repo, filename, self.quant, self.revision)

    @property
    def store_name(self) -> str:
        if self.filename is None:
            raise ValueError("resolve the file before naming the model")
        return hub_store_name(self.repo, self.filename)


@dataclass(frozen=True)
class LocalRef:
    """A name the catalogue does not know: only an imported model can carry it."""

    name: str

    @property
    def store_name(self) -> str:
        return self.name


ModelRef = CatalogueRef | HubRef | LocalRef


def hub_store_name(repo: str, filename: str) -> str:
    return f"{HF_PREFIX}{repo}/{filename}"


def parse(text: str, catalogue: Catalogue) -> ModelRef:
    """Turn what the user typed into a reference; raises BadNameError or UnknownModelError."""
    raw = text.strip()
    if raw.lower().startswith(HF_PREFIX):
        return _parse_hub(raw, raw[len(HF_PREFIX) :])
    name, _, tag = raw.lower().partition(":")
    if not _NAME.match(name) or (tag and not _TAG.match(tag)) or raw.endswith(":"):
        raise BadNameError("error.bad_model_name", name=text)
    entry = catalogue.get(name)
    if entry is None:
        return LocalRef(raw.lower())
    quant = entry.quant(tag or None)
    if quant is None:
        raise UnknownModelError(
            "error.unknown_quant",
            name=entry.name,
            quant=tag,
            quants=", ".join(q.tag for q in entry.quants),
        )
    return CatalogueRef(entry, quant)


def _parse_hub(text: str, rest: str) -> HubRef:
    parts = rest.split("/")
    if len(parts) >= 3 and parts[-1].lower().endswith(".gguf"):
        repo = "/".join(parts[:2])
        filename = "/".join(parts[2:])
        if _REPO.match(repo) and all(parts[2:]) and ".." not in parts[2:]:
            return HubRef(repo, filename=filename)
    elif len(parts) == 2:
        repo, _, tag = rest.partition(":")
        if _REPO.match(repo) and (not tag or _TAG.match(tag.lower())) and not rest.endswith(":"):
            return HubRef(repo, quant=(tag or DEFAULT_HUB_QUANT).lower())
    raise BadNameError("error.bad_model_name", name=text)


def valid_local_name(name: str) -> bool:
    """Names ``amalia import --name`` accepts: lower case, digits, ``._-``, one ``:tag``."""
    base, _, tag = name.partition(":")
    return (
        bool(_NAME.match(base)) and (not name.endswith(":")) and (not tag or bool(_TAG.match(tag)))
    )


def name_from_filename(stem: str) -> str:
    """A valid default import name from a file name: ``My Model.Q4`` -> ``my-model.q4``."""
    cleaned = re.sub(r"[^a-z0-9._-]+", "-", stem.lower()).strip("-._")
    return cleaned or "model"


def match_quant(filenames: list[str], quant: str) -> list[str]:
    """GGUF files whose name carries ``quant`` as a whole tag, like llama.cpp's -hf.

    ``q4_k`` must not pick ``Q4_K_M`` and ``q8_0`` must not pick ``Q8_0_L``: the tag has to
    be followed by the end of the name or ``-``/``.``. Vision projectors (mmproj) and the
    later parts of split files are never a model to load.
    """
    pattern = re.compile(r"(?:^|[-._/])" + re.escape(quant) + r"(?:$|[-.])", re.IGNORECASE)
    found = []
    for name in filenames:
        lower = name.lower()
        if not lower.endswith(".gguf") or "mmproj" in lower:
            continue
        split = re.search(r"-(\d{5})-of-(\d{5})\.gguf$", lower)
        if split and split.group(1) != "00001":
            continue
        if pattern.search(name[: -len(".gguf")]):
            found.append(name)
    return sorted(found)


def is_split(filename: str) -> bool:
    return re.search(r"-\d{5}-of-\d{5}\.gguf$", filename.lower()) is not None
