"""The XML inside a DOCX or ODT, read with limits: these files are zip archives.

Why the standard library and not python-docx/odfpy: we need only the text, the limits
must hold *before* anything is inflated (a zip bomb is a few kilobytes that inflate to
gigabytes; python-docx would build the whole object model first), and no dependency is
needed in air-gapped bundles. Each member's declared size and compression ratio are
checked, then it is inflated only up to the limit, since a declared size may lie.
XML with a DOCTYPE is refused: Office files never have one, and without it no entity
can be declared (no "billion laughs", no external entities).
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from xml.etree import ElementTree

from amalia_local.documents.errors import DocumentCorrupt, DocumentEncrypted, DocumentTooLarge
from amalia_local.documents.limits import MAX_RATIO, MAX_XML_BYTES, RATIO_FLOOR_BYTES
from amalia_local.formatting import Bytes

_FIRST_ELEMENT = re.compile(rb"<[A-Za-z_]")


class ZippedXml:
    """One DOCX/ODT archive; :meth:`parse` returns a member's XML tree (None if absent)."""

    def __init__(self, data: bytes, path: object, kind: str) -> None:
        self.path = path
        self.kind = kind
        try:
            self._zip = zipfile.ZipFile(io.BytesIO(data))
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError):
            raise DocumentCorrupt(path, kind, "not a zip archive") from None

    def names(self) -> set[str]:
        return set(self._zip.namelist())

    def read(self, name: str) -> bytes | None:
        try:
            info = self._zip.getinfo(name)
        except KeyError:
            return None
        limit = Bytes(MAX_XML_BYTES)
        if info.file_size > MAX_XML_BYTES:
            raise DocumentTooLarge(self.path, limit)
        if info.file_size > RATIO_FLOOR_BYTES and info.file_size > MAX_RATIO * max(
            1, info.compress_size
        ):
            raise DocumentTooLarge(self.path, limit)
        if info.flag_bits & 0x1:
            raise DocumentEncrypted(self.path)
        try:
            with self._zip.open(info) as member:
                data = member.read(MAX_XML_BYTES + 1)
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, OSError) as exc:
            raise DocumentCorrupt(self.path, self.kind, f"{name}: {exc}") from None
        except RuntimeError:  # zipfile: "File ... is encrypted, password required"
            raise DocumentEncrypted(self.path) from None
        if len(data) > MAX_XML_BYTES:
            raise DocumentTooLarge(self.path, limit)
        return data

    def parse(self, name: str) -> ElementTree.Element | None:
        data = self.read(name)
        if data is None:
            return None
        first = _FIRST_ELEMENT.search(data)
        if first is None or b"<!DOCTYPE" in data[: first.start()]:
            raise DocumentCorrupt(self.path, self.kind, f"{name} is not plain XML")
        try:
            return ElementTree.fromstring(data)
        except ElementTree.ParseError as exc:
            raise DocumentCorrupt(self.path, self.kind, f"{name}: {exc}") from None
