"""Human-readable numbers for terminal output."""

from __future__ import annotations


def human_bytes(n: float) -> str:
    """Decimal units (GB = 10^9), as disk vendors and the Hugging Face Hub show sizes."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


def human_count(n: int) -> str:
    """Parameter counts the way model cards write them: 135M, 9.15B."""
    for unit, scale in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g}{unit}"
    return str(n)
