"""TOML scalars as text: what ``Config.save`` writes and what error messages quote.

Hand-written rather than a dependency (tomli-w): the settings are flat scalars, and a
basic string needs only the escapes of the TOML spec (1.0.0, "String"): the quote, the
backslash and every control character except tab; everything else is written as is.
"""

from __future__ import annotations

import math

# The spec's short escapes; every other control character is written \\uXXXX.
_SHORT = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r", '"': '\\"', "\\": "\\\\"}


def toml_string(text: str) -> str:
    """A TOML basic string holding exactly ``text``.

    Lone surrogates (a Python string can hold them, from ``surrogateescape``) are not
    Unicode scalar values: neither TOML nor UTF-8 can carry them. Pairs are joined into
    the character they mean and a lone one becomes U+FFFD, as a UTF-8 decoder shows a
    byte it cannot read: saving the settings must never fail over one character.
    """
    text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    out = []
    for char in text:
        if char in _SHORT:
            out.append(_SHORT[char])
        elif char < " " or char == "\x7f":
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def toml_value(value: object) -> str:
    """A bool, a number or a string as TOML writes it (what ``tomllib`` reads back equal)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return toml_string(value)
    raise TypeError(f"not a TOML scalar: {type(value).__name__}")


def quoted(value: object, limit: int = 60) -> str:
    """A value read from a TOML file, quoted in a one-line message as the file writes it
    (``"false"`` with its quotes shows it is text), shortened past ``limit`` characters."""
    try:
        text = toml_value(value)
    except TypeError:
        text = _compound(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _compound(value: object) -> str:
    """Arrays, tables and dates: enough of their TOML form to recognise them."""
    if isinstance(value, list):
        return "[" + ", ".join(_compound_item(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_compound_item(v)}" for k, v in value.items()) + "}"
    return " ".join(str(value).split())  # datetime, date, time: their ISO form, one line


def _compound_item(value: object) -> str:
    try:
        return toml_value(value)
    except TypeError:
        return _compound(value)
