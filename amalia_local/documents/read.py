"""From a path (or standard input's bytes) to a :class:`Document`, whatever the format.

The format is the extension's, checked against the first bytes (a ``.pdf`` that is not
a PDF is corrupt, not text); a file without a known extension is sniffed. Every way
of failing is a typed :class:`DocumentError` raised before anything is saved.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from amalia_local.documents import text_cache
from amalia_local.documents.document import Document, tidy
from amalia_local.documents.errors import (
    DocumentCorrupt,
    DocumentIsFolder,
    DocumentMissing,
    DocumentTooLarge,
    DocumentUnreadable,
    DocumentUnsupported,
    DocumentWithoutText,
)
from amalia_local.documents.limits import MAX_FILE_BYTES, MAX_TEXT_CHARS
from amalia_local.formatting import Bytes

TEXT_SUFFIXES = {".txt", ".md", ".markdown", ".text"}
HTML_SUFFIXES = {".html", ".htm", ".xhtml"}
SUFFIXES = {
    **dict.fromkeys(TEXT_SUFFIXES, "text"),
    **dict.fromkeys(HTML_SUFFIXES, "html"),
    ".pdf": "pdf",
    ".docx": "docx",
    ".odt": "odt",
}
_ODT_MIMETYPE = b"application/vnd.oasis.opendocument.text"


def read_document(
    path: str | os.PathLike[str],
    pages: str | None = None,
    *,
    name: str | None = None,
    cache_dir: Path | None = None,
) -> Document:
    """Read ``path``; ``pages`` (``3-10``) applies to PDFs only. ``name``: what the
    model and the user see (the file's name by default); ``cache_dir``: where extracted
    text is kept (``text_cache``), so the same file is not extracted twice."""
    file = Path(path).expanduser()
    try:
        if file.is_dir():
            raise DocumentIsFolder(file)
        size = file.stat().st_size
        if size > MAX_FILE_BYTES:
            raise DocumentTooLarge(file, Bytes(MAX_FILE_BYTES))
        data = file.read_bytes()
    except FileNotFoundError:
        raise DocumentMissing(file) from None
    except OSError as exc:
        raise DocumentUnreadable(file, exc.strerror or str(exc)) from None
    kind = SUFFIXES.get(file.suffix.lower()) or sniff(data)
    name = name or file.name
    if cache_dir is None or kind not in text_cache.KINDS:
        return document_from_bytes(name, data, kind, pages, shown=file)
    entry = text_cache.entry_path(cache_dir, hashlib.sha256(data).hexdigest(), pages)
    kept = text_cache.load(entry, name)
    if kept is not None:
        return kept
    document = document_from_bytes(name, data, kind, pages, shown=file)
    text_cache.save(entry, document)
    return document


def sniff(data: bytes) -> str:
    """The kind of a file with no telling extension (standard input, ``notas``)."""
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(b"PK\x03\x04"):
        if _ODT_MIMETYPE in data[:100]:  # ODF stores "mimetype" first, uncompressed
            return "odt"
        return "docx" if b"word/" in data else "zip"
    head = data[:512].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")):
        return "html"
    return "text"


def document_from_bytes(
    name: str, data: bytes, kind: str, pages: str | None = None, shown: object = None
) -> Document:
    """``shown``: how errors name the source (the path; by default ``name``)."""
    shown = shown if shown is not None else name
    page_count: int | None = None
    by_page: list[tuple[int, str]] = []
    if kind == "pdf":
        from amalia_local.documents.pdf import pdf_text

        if not data.startswith(b"%PDF-") and b"%PDF-" not in data[:1024]:
            raise DocumentCorrupt(shown, "PDF", "no PDF header")
        by_page, page_count = pdf_text(data, shown, pages)
        text = "\n\n".join(t for _, t in by_page)
    elif kind == "docx":
        from amalia_local.documents.docx import docx_text

        text, page_count = docx_text(data, shown)
    elif kind == "odt":
        from amalia_local.documents.odt import odt_text

        text, page_count = odt_text(data, shown)
    elif kind in ("text", "html"):
        from amalia_local.documents.plain import decode

        decoded = decode(data)
        if decoded is None:
            raise DocumentUnsupported(shown)
        if kind == "html":
            from amalia_local.documents.html import html_text

            decoded = html_text(decoded)
        text = decoded
    else:
        raise DocumentUnsupported(shown)
    if len(text) > MAX_TEXT_CHARS:
        raise DocumentTooLarge(shown, Bytes(MAX_TEXT_CHARS))
    text = tidy(text)
    if not text:
        raise DocumentWithoutText(shown, "pdf" if kind == "pdf" else "any")
    return Document(
        name=name,
        text=text,
        sha256=hashlib.sha256(data).hexdigest(),
        kind=kind,
        pages=page_count,
        page_range=pages if kind == "pdf" else None,
        page_starts=page_starts(text, by_page),
    )


def page_starts(text: str, by_page: list[tuple[int, str]]) -> tuple[tuple[int, int], ...]:
    """Where each page begins in the tidied ``text``: (offset, page number) pairs.

    Each page is tidied on its own and found in the whole from where the last one was,
    so the whole text stays exactly what it was before pages were tracked (a saved
    conversation's prompt, and its KV state, do not change)."""
    starts: list[tuple[int, int]] = []
    cursor = 0
    for number, raw in by_page:
        piece = tidy(raw)
        if not piece:
            continue
        at = text.find(piece[:64], cursor)
        if at < 0:
            continue  # tidying the whole joined two pages differently: keep the last start
        starts.append((at, number))
        cursor = at + len(piece)
    return tuple(starts)
