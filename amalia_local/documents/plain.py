"""Plain text (.txt, .md): the encoding is found, not assumed.

Portuguese Windows PCs still save "ANSI" text as Windows-1252, where "ç" and "ã" are
single bytes that are invalid UTF-8. A BOM decides first; then strict UTF-8 (which
almost never accepts text in another encoding by accident); then Windows-1252; then
Latin-1, which accepts any byte (for the five bytes Windows-1252 leaves undefined).
"""

from __future__ import annotations

import codecs

# A text file has no NUL bytes (UTF-16 without a BOM is not supported) and few controls.
_SNIFF_BYTES = 8192
_MAX_CONTROL_SHARE = 0.01


def decode(data: bytes) -> str | None:
    """The text of ``data``, or None if it looks like a binary file."""
    for bom, encoding in (
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if data.startswith(bom):
            return data[len(bom) :].decode(encoding, errors="replace")
    if b"\x00" in data[:_SNIFF_BYTES]:
        return None
    text = None
    for encoding in ("utf-8", "cp1252"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    if text is None:
        text = data.decode("latin-1")
    sample = text[:_SNIFF_BYTES]
    controls = sum(1 for c in sample if ord(c) < 32 and c not in "\t\n\r\f")
    if sample and controls / len(sample) > _MAX_CONTROL_SHARE:
        return None
    return text
