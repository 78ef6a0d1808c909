"""Documents given to the model: read (PDF, DOCX, ODT, HTML, text), limited, framed.

``read_document`` turns a file into text or one typed error; ``framing`` puts documents
and a question into one user message the same way every time, so a conversation about
a document renders the same prompt when continued and its saved KV state is reused.

Each name is imported from its module when first asked for: every question goes through
``compose``, but only one with documents needs the readers (hashlib, zip, XML...).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from amalia_local.lazy_names import lazy_getattr

if TYPE_CHECKING:
    from amalia_local.documents.document import Document
    from amalia_local.documents.errors import DocumentError
    from amalia_local.documents.framing import compose
    from amalia_local.documents.read import document_from_bytes, read_document, sniff

_HOMES = {
    "Document": "document",
    "DocumentError": "errors",
    "compose": "framing",
    "document_from_bytes": "read",
    "read_document": "read",
    "sniff": "read",
}

__all__ = [
    "Document",
    "DocumentError",
    "compose",
    "document_from_bytes",
    "read_document",
    "sniff",
]


__getattr__ = lazy_getattr(__name__, _HOMES)
