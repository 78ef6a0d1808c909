"""Text extracted from a PDF, DOCX or ODT, kept under the cache folder by the file's hash.

Extracting a 300-page PDF takes seconds; a follow-up, the same file attached again or a
new process asking about it reads the file's bytes (to hash them: a changed file is a
new entry) and the kept text, and never extracts twice. Plain text and HTML are read
directly: keeping them would cost as much as reading them. Entries are written under a
temporary name and renamed into place, so a crash never leaves half of one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path

from amalia_local.documents.document import Document

FORMAT = 1  # bump when extraction changes: older entries are then ignored
KINDS = frozenset({"pdf", "docx", "odt"})


def entry_path(cache_dir: Path, sha256: str, pages: str | None) -> Path:
    name = sha256
    if pages:
        name += "-" + hashlib.sha256(pages.encode()).hexdigest()[:12]
    return cache_dir / "documents" / f"{name}.v{FORMAT}.json"


def load(path: Path, name: str) -> Document | None:
    """The kept document, named ``name``; None when there is none (or it is damaged)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != FORMAT:
            return None
        return Document(
            name=name,
            text=data["text"],
            sha256=data["sha256"],
            kind=data["kind"],
            pages=data["pages"],
            page_range=data["page_range"],
            page_starts=tuple((int(a), int(b)) for a, b in data["page_starts"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save(path: Path, document: Document) -> None:
    """Keep ``document``'s text; a cache that cannot be written is only slower."""
    data = {
        "format": FORMAT,
        "text": document.text,
        "sha256": document.sha256,
        "kind": document.kind,
        "pages": document.pages,
        "page_range": document.page_range,
        "page_starts": [list(p) for p in document.page_starts],
    }
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, ensure_ascii=False)
        os.replace(tmp, path)
    except OSError:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
