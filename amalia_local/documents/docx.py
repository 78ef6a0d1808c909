"""Word documents (.docx): paragraphs and tables of ``word/document.xml``, in order.

Only what a reader sees as the document's body: runs' text, tabs and line breaks;
tables as ``| a | b |`` rows (one line per row keeps a table readable for the model);
deleted tracked changes and field codes are left out. Headers, footers and footnotes
are not read. The page count is the one Word saved in ``docProps/app.xml``, if any.
"""

from __future__ import annotations

from xml.etree.ElementTree import Element

from amalia_local.documents.errors import DocumentCorrupt
from amalia_local.documents.zipped_xml import ZippedXml

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_EXTENDED = "{http://schemas.openxmlformats.org/officeDocument/2006/extended-properties}"
_TEXT_OF = {W + "t": None, W + "tab": "\t", W + "br": "\n", W + "cr": "\n"}


def docx_text(data: bytes, path: object) -> tuple[str, int | None]:
    archive = ZippedXml(data, path, "DOCX")
    root = archive.parse("word/document.xml")
    if root is None:
        raise DocumentCorrupt(path, "DOCX", "no word/document.xml")
    body = root.find(W + "body")
    lines: list[str] = []
    if body is not None:
        _blocks(body, lines)
    return "\n".join(lines), _pages(archive)


def _blocks(parent: Element, lines: list[str]) -> None:
    for child in parent:
        if child.tag == W + "p":
            lines.append(_paragraph(child))
        elif child.tag == W + "tbl":
            for row in child.iter(W + "tr"):
                cells = [_cell(cell) for cell in row.findall(W + "tc")]
                lines.append("| " + " | ".join(cells) + " |")
            lines.append("")
        elif child.tag in (W + "sdt", W + "sdtContent", W + "customXml"):
            _blocks(child, lines)  # content controls wrap ordinary paragraphs


def _paragraph(p: Element) -> str:
    parts: list[str] = []
    for node in p.iter():
        if node.tag in _TEXT_OF:
            fixed = _TEXT_OF[node.tag]
            parts.append(node.text or "" if fixed is None else fixed)
        elif node.tag == W + "noBreakHyphen":
            parts.append("-")
    return "".join(parts)


def _cell(cell: Element) -> str:
    text = " ".join(_paragraph(p) for p in cell.iter(W + "p"))
    return " ".join(text.split())


def _pages(archive: ZippedXml) -> int | None:
    app = archive.parse("docProps/app.xml")
    node = app.find(_EXTENDED + "Pages") if app is not None else None
    try:
        return int(node.text) if node is not None and node.text else None
    except ValueError:
        return None
