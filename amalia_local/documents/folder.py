"""A folder as the documents: every file under it that amalia reads, within limits.

The limits are checked on the file list before a byte is read (a home folder given by
mistake is refused at once, not after minutes of reading): at most MAX_FOLDER_FILES
documents and MAX_FOLDER_BYTES on disk. A file that cannot be read (empty, scanned,
corrupt, protected) is left out and reported, one line each; the others are read.
Hidden files and folders (``.git``) are not looked in, nor folder links (a loop).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from amalia_local.documents.document import Document
from amalia_local.documents.errors import DocumentError, DocumentUnreadable
from amalia_local.documents.read import SUFFIXES, read_document
from amalia_local.formatting import Bytes, Count

MAX_FOLDER_FILES = 200  # documents under one folder
MAX_FOLDER_BYTES = 500_000_000  # their size on disk, together (500 MB)


class FolderTooLarge(DocumentError):
    """More documents, or more bytes of them, than a folder may hold."""


class FolderWithoutDocuments(DocumentError):
    def __init__(self, path: object) -> None:
        super().__init__("folder.empty", path=path)


@dataclass(frozen=True)
class FolderRead:
    documents: tuple[Document, ...]
    skipped: tuple[DocumentError, ...]  # why each file left out was left out


def folder_files(folder: Path, unreadable: list[DocumentError] | None = None) -> list[Path]:
    """The documents under ``folder`` in a stable order; :class:`FolderTooLarge` past
    the limits. Sub-folders that cannot be listed go to ``unreadable``."""
    try:
        os.scandir(folder).close()
    except OSError as exc:
        raise DocumentUnreadable(folder, exc.strerror or str(exc)) from None
    found: list[Path] = []
    size = 0

    def skip(error: OSError) -> None:
        if unreadable is not None:
            unreadable.append(DocumentUnreadable(error.filename, error.strerror or str(error)))

    for root, dirs, files in os.walk(folder, onerror=skip):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            path = Path(root, name)
            if name.startswith(".") or path.suffix.lower() not in SUFFIXES:
                continue
            found.append(path)
            if len(found) > MAX_FOLDER_FILES:
                raise FolderTooLarge("folder.too_many", path=folder, limit=Count(MAX_FOLDER_FILES))
            try:
                size += path.stat().st_size
            except OSError:
                continue  # reported when it is read
            if size > MAX_FOLDER_BYTES:
                raise FolderTooLarge("folder.too_big", path=folder, limit=Bytes(MAX_FOLDER_BYTES))
    return found


def read_folder(
    folder: Path, pages: str | None = None, cache_dir: Path | None = None
) -> FolderRead:
    """Every document under ``folder``, named by its path inside it (``atas/2024-03.pdf``),
    so passages of two files called the same are told apart. None at all is for the
    caller to refuse (:class:`FolderWithoutDocuments`), after saying what was skipped."""
    documents: list[Document] = []
    skipped: list[DocumentError] = []
    for path in folder_files(folder, skipped):
        name = path.relative_to(folder).as_posix()
        try:
            documents.append(read_document(path, pages, name=name, cache_dir=cache_dir))
        except DocumentError as exc:
            skipped.append(exc)
    return FolderRead(tuple(documents), tuple(skipped))
