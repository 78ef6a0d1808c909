"""The pt-PT / pt-BR material: minimal pairs, generation prompts and the marker lexicon.

Everything lives in ``quant/data/`` and was written for this project (see
``variety_source.py`` there for the pairs and the rules they follow). This module only
reads it and counts markers in text; scoring with a model is :mod:`quant.variety`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from quant.errors import EvaluationError

DATA_DIR = Path(__file__).parent / "data"
PAIRS_FILE = DATA_DIR / "variety_pairs.jsonl"
PROMPTS_FILE = DATA_DIR / "variety_prompts.txt"
LEXICON_FILE = DATA_DIR / "variety_lexicon.json"

# In the order the report lists them.
CATEGORIES = ("vocabulary", "spelling", "progressive", "clitic", "address", "syntax")
VARIETIES = ("pt_PT", "pt_BR")

_WORD = re.compile(r"\w+(?:-\w+)*")


def words(text: str) -> list[str]:
    """Words as the per-1,000-words rates count them (hyphenated forms are one word)."""
    return _WORD.findall(text)


@dataclass(frozen=True)
class Pair:
    """One minimal pair: the same sentence in each variety, differing only in ``markers``."""

    id: str
    category: str
    pt_PT: str
    pt_BR: str
    markers: tuple[tuple[str, str], ...]

    def swapped(self) -> Pair:
        """The two sides exchanged (the tests' symmetry check)."""
        flipped = tuple((b, a) for a, b in self.markers)
        return Pair(self.id, self.category, self.pt_BR, self.pt_PT, flipped)


def _read(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise EvaluationError(f"cannot read the variety data {path}: {exc}") from exc


def load_pairs(path: Path = PAIRS_FILE) -> list[Pair]:
    pairs = []
    for number, line in enumerate(_read(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            pair = Pair(
                id=raw["id"],
                category=raw["category"],
                pt_PT=raw["pt_PT"],
                pt_BR=raw["pt_BR"],
                markers=tuple((a, b) for a, b in raw["markers"]),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise EvaluationError(f"{path.name} line {number} is not a valid pair") from exc
        if pair.category not in CATEGORIES:
            raise EvaluationError(f"{path.name} line {number}: unknown category {pair.category}")
        pairs.append(pair)
    return pairs


def first_per_category(pairs: list[Pair], limit: int | None) -> list[Pair]:
    """At most ``limit`` pairs of each category, in file order (a quicker, rougher run)."""
    if limit is None:
        return pairs
    taken: dict[str, int] = {}
    out = []
    for pair in pairs:
        if taken.get(pair.category, 0) < limit:
            taken[pair.category] = taken.get(pair.category, 0) + 1
            out.append(pair)
    return out


def load_prompts(path: Path = PROMPTS_FILE) -> list[str]:
    return [line.strip() for line in _read(path).splitlines() if line.strip()]


def _form_pattern(form: str) -> re.Pattern[str]:
    """A whole-word, case-insensitive match; spaces inside a form match any whitespace."""
    body = r"\s+".join(re.escape(part) for part in form.split())
    return re.compile(rf"(?<![\w-]){body}(?![\w-])", re.IGNORECASE)


@dataclass(frozen=True)
class Lexicon:
    """Forms found only in one variety, by category, and regular expressions for the
    progressive and clitic placement, which are patterns rather than words."""

    forms: dict[str, dict[str, str]]  # variety -> form -> category
    patterns: dict[str, dict[str, re.Pattern[str]]]  # variety -> name -> regex

    @classmethod
    def load(cls, path: Path = LEXICON_FILE) -> Lexicon:
        try:
            raw = json.loads(_read(path))
            forms = {
                v: {form: cat for cat, items in raw[v].items() for form in items} for v in VARIETIES
            }
            patterns = {
                v: {
                    name: re.compile(rx, re.IGNORECASE | re.MULTILINE)
                    for name, rx in raw["patterns"][v].items()
                }
                for v in VARIETIES
            }
        except (ValueError, KeyError, TypeError, AttributeError, re.error) as exc:
            raise EvaluationError(f"{path.name} is not a valid lexicon: {exc}") from exc
        return cls(forms, patterns)

    def compiled_forms(self, variety: str) -> Iterator[tuple[str, re.Pattern[str]]]:
        for form in self.forms[variety]:
            yield form, _form_pattern(form)

    def count(self, text: str) -> dict[str, int]:
        """Marker occurrences per variety (forms and patterns) in ``text``."""
        counts = {}
        for variety in VARIETIES:
            n = sum(len(p.findall(text)) for _, p in self.compiled_forms(variety))
            n += sum(len(p.findall(text)) for p in self.patterns[variety].values())
            counts[variety] = n
        return counts
