"""PDF: the text layer, page by page, with pypdf.

pypdf is pure Python (one wheel for every platform an air-gapped bundle may target),
maintained, and bounds what a malicious file can make it inflate. A scanned PDF has
no text layer: that is said plainly, never answered from an empty document. Encrypted
files open only when their user password is empty (the common "no printing" kind); AES
ones would need the ``cryptography`` package, which we do not ship, and are refused.
"""

from __future__ import annotations

import io

from amalia_local.documents.errors import DocumentCorrupt, DocumentEncrypted, DocumentWithoutText
from amalia_local.documents.pages import select_pages


def pdf_text(
    data: bytes, path: object, pages: str | None = None
) -> tuple[list[tuple[int, str]], int]:
    """The text of each chosen page (all by default) with its number (from 1), and how
    many pages that is."""
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                if not reader.decrypt(""):
                    raise DocumentEncrypted(path)
            except (DependencyError, NotImplementedError, FileNotDecryptedError):
                raise DocumentEncrypted(path) from None
        count = len(reader.pages)
    except DocumentEncrypted:
        raise
    except Exception as exc:  # pypdf raises many kinds on a damaged file
        raise DocumentCorrupt(path, "PDF", _reason(exc)) from None
    chosen = select_pages(pages, count) if pages else list(range(count))
    texts: list[str] = []
    for index in chosen:
        try:
            texts.append(reader.pages[index].extract_text() or "")
        except (DependencyError, FileNotDecryptedError):
            raise DocumentEncrypted(path) from None
        except Exception as exc:
            raise DocumentCorrupt(path, "PDF", f"page {index + 1}: {_reason(exc)}") from None
    if not any(t.strip() for t in texts):
        raise DocumentWithoutText(path, "pdf")
    return [(i + 1, t.strip()) for i, t in zip(chosen, texts, strict=True)], len(chosen)


def _reason(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
