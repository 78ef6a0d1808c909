"""OpenDocument text (.odt, LibreOffice's own format): the body of ``content.xml``.

Paragraphs and headings with their spans, the ``text:s`` runs of spaces, tabs and line
breaks; list items as ``- item``; tables as ``| a | b |`` rows, as for DOCX. Notes,
annotations and tracked deletions are left out. The page count comes from ``meta.xml``
when LibreOffice saved it.
"""

from __future__ import annotations

from xml.etree.ElementTree import Element

from amalia_local.documents.errors import DocumentCorrupt
from amalia_local.documents.zipped_xml import ZippedXml

TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
META = "{urn:oasis:names:tc:opendocument:xmlns:meta:1.0}"
_LEFT_OUT = {TEXT + "note", OFFICE + "annotation", TEXT + "tracked-changes"}
_CONTAINERS = {TEXT + "section", TEXT + "list-header", TEXT + "soft-page-break"}


def odt_text(data: bytes, path: object) -> tuple[str, int | None]:
    archive = ZippedXml(data, path, "ODT")
    root = archive.parse("content.xml")
    if root is None:
        raise DocumentCorrupt(path, "ODT", "no content.xml")
    body = root.find(f"{OFFICE}body/{OFFICE}text")
    lines: list[str] = []
    if body is not None:
        _blocks(body, lines, "")
    return "\n".join(lines), _pages(archive)


def _blocks(parent: Element, lines: list[str], bullet: str) -> None:
    for child in parent:
        tag = child.tag
        if tag in (TEXT + "p", TEXT + "h"):
            lines.append(bullet + _inline(child))
            bullet = "  " if bullet else ""  # a list item's later paragraphs are indented
        elif tag == TEXT + "list":
            for item in child:
                if item.tag in (TEXT + "list-item", TEXT + "list-header"):
                    _blocks(item, lines, "- ")
        elif tag == TABLE + "table":
            for row in child.iter(TABLE + "table-row"):
                cells = [_cell(c) for c in row if c.tag == TABLE + "table-cell"]
                lines.append("| " + " | ".join(cells) + " |")
            lines.append("")
        elif tag in _CONTAINERS:
            _blocks(child, lines, bullet)


def _inline(node: Element) -> str:
    parts = [node.text or ""]
    for child in node:
        tag = child.tag
        if tag == TEXT + "s":
            parts.append(" " * _int(child.get(TEXT + "c"), 1))
        elif tag == TEXT + "tab":
            parts.append("\t")
        elif tag == TEXT + "line-break":
            parts.append("\n")
        elif tag not in _LEFT_OUT:
            parts.append(_inline(child))
        parts.append(child.tail or "")
    return "".join(parts)


def _cell(cell: Element) -> str:
    lines: list[str] = []
    _blocks(cell, lines, "")
    return " ".join(" ".join(lines).split())


def _int(text: str | None, default: int) -> int:
    try:
        return max(0, min(int(text or default), 1000))
    except ValueError:
        return default


def _pages(archive: ZippedXml) -> int | None:
    meta = archive.parse("meta.xml")
    if meta is None:
        return None
    for node in meta.iter(META + "document-statistic"):
        count = node.get(META + "page-count")
        if count and count.isdigit():
            return int(count)
    return None
