"""Human-readable numbers for terminal output, written the way the reader's language does.

English writes 5.6 GB and 8,192; European Portuguese writes 5,6 GB and 8192, grouping
thousands with a narrow no-break space only from five digits on (16 384), as the
Portuguese style guides and CLDR do. A :class:`NumberFormat` is bound to one language
and handed down with the translator, so no code below it needs to know the language.
"""

from __future__ import annotations

from dataclasses import dataclass

_NARROW_NBSP = "\u202f"


class Bytes(int):
    """A size in bytes inside an error's parameters: written in the reader's language
    only when the message is translated, since errors are raised far from any reader."""


class Count(int):
    """A count (tokens, bytes as an exact figure) inside an error's parameters; see Bytes."""


@dataclass(frozen=True)
class NumberFormat:
    """Numbers as one language writes them: ``pt`` or English for anything else."""

    lang: str = "en"

    @property
    def _pt(self) -> bool:
        return self.lang == "pt"

    def count(self, n: int) -> str:
        """16,384 in English; 8192 and 16 384 (narrow no-break space) in Portuguese."""
        if not self._pt:
            return f"{n:,}"
        return f"{n:,}".replace(",", _NARROW_NBSP) if abs(n) >= 10_000 else str(n)

    def decimal(self, x: float, places: int = 1) -> str:
        """12.3 / 1,234.5 in English; 12,3 / 1234,5 / 12 345,6 in Portuguese."""
        text = f"{abs(x):.{places}f}"
        whole, _, fraction = text.partition(".")
        sign = "-" if x < 0 and text.strip("0.") else ""
        grouped = self.count(int(whole))
        if not fraction:
            return sign + grouped
        return sign + grouped + ("," if self._pt else ".") + fraction

    def bytes(self, n: float) -> str:
        """Decimal units (GB = 10^9), as disk vendors and the Hugging Face Hub show sizes."""
        for unit in ("B", "kB", "MB", "GB", "TB"):
            if abs(n) < 1000 or unit == "TB":
                return f"{self.decimal(n, 0 if unit == 'B' else 1)} {unit}"
            n /= 1000
        raise AssertionError("unreachable")

    def short(self, n: int) -> str:
        """Parameter counts the way model cards write them: 135M, 9.15B (9,15B in pt)."""
        for unit, scale in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
            if n >= scale:
                text = f"{n / scale:.3g}"
                return (text.replace(".", ",") if self._pt else text) + unit
        return str(n)

    def value(self, v: object) -> object:
        """A message parameter as text if it is marked Bytes or Count; anything else as is."""
        if isinstance(v, Bytes):
            return self.bytes(v)
        if isinstance(v, Count):
            return self.count(v)
        return v


ENGLISH = NumberFormat("en")


def human_bytes(n: float) -> str:
    """English sizes, for the maintainers' tools (convert/, quant/) whose reports are English."""
    return ENGLISH.bytes(n)


def human_count(n: int) -> str:
    """English parameter counts, for the maintainers' tools; see human_bytes."""
    return ENGLISH.short(n)
