"""What reading a document produces, whatever its format."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass


@dataclass(frozen=True)
class Document:
    """A document's text as the model will see it, and what identifies the file."""

    name: str  # the file name, shown to the model before the text and to the user
    text: str
    sha256: str  # of the file's bytes: which version of the file was asked about
    kind: str  # text, pdf, docx, odt, html
    pages: int | None = None  # pages read (PDF: those chosen), None when unknown
    page_range: str | None = None  # --pages as given, for the record
    # PDF: (offset in ``text``, page number from 1) where each page with text begins
    page_starts: tuple[tuple[int, int], ...] = ()


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_TRAILING = re.compile(r"[ \t]+\n")
_BLANK_RUNS = re.compile(r"\n{3,}")


def tidy(text: str) -> str:
    """One canonical form: NFC accents (macOS writes them decomposed), Unix line ends,
    no trailing spaces or long blank runs. Fewer tokens, and the same file always gives
    the same text, so its saved KV state matches the next time it is asked about."""
    text = unicodedata.normalize("NFC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n\n")
    text = _CONTROL.sub("", text)
    text = _TRAILING.sub("\n", text)
    text = _BLANK_RUNS.sub("\n\n", text)
    return text.strip()
