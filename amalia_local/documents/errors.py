"""Why a document could not be read: one typed error per cause, one line each.

``run`` prints the line and exits 1; the chat shows it as a notice and attaches nothing.
"""

from __future__ import annotations

from amalia_local.errors import AmaliaError


class DocumentError(AmaliaError):
    """A document that cannot be given to the model; ``key`` says why."""


class DocumentMissing(DocumentError):
    def __init__(self, path: object) -> None:
        super().__init__("document.missing", path=path)


class DocumentIsFolder(DocumentError):
    def __init__(self, path: object) -> None:
        super().__init__("document.folder", path=path)


class DocumentUnreadable(DocumentError):
    def __init__(self, path: object, reason: str) -> None:
        super().__init__("document.unreadable", path=path, reason=reason)


class DocumentUnsupported(DocumentError):
    """Not one of the formats we read (a binary file, an image, a spreadsheet...)."""

    def __init__(self, path: object) -> None:
        super().__init__("document.unsupported", path=path)


class DocumentCorrupt(DocumentError):
    def __init__(self, path: object, kind: str, reason: str) -> None:
        super().__init__("document.corrupt", path=path, kind=kind, reason=reason)


class DocumentTooLarge(DocumentError):
    """Bigger than any context could take, or a compressed member that inflates too much."""

    def __init__(self, path: object, limit: int) -> None:
        super().__init__("document.too_large", path=path, limit=limit)


class DocumentEncrypted(DocumentError):
    def __init__(self, path: object) -> None:
        super().__init__("document.encrypted", path=path)


class DocumentWithoutText(DocumentError):
    """A scanned PDF (images only) or an empty file: nothing the model could read."""

    def __init__(self, path: object, kind: str) -> None:
        super().__init__(f"document.no_text.{kind}", path=path)


class BadPageRange(DocumentError):
    def __init__(self, text: str, pages: int | None = None) -> None:
        if pages is None:
            super().__init__("document.bad_pages", pages=text)
        else:
            super().__init__("document.pages_beyond", pages=text, count=pages)
