"""Documents written from scratch for the tests and benchmarks: PDF, DOCX, ODT, HTML.

No fixture files are checked in: each format is produced here by hand (the PDF object
by object, the Office files as zip archives of their XML) so a test says exactly what
the file contains.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from pathlib import Path
from xml.sax.saxutils import escape


# --- PDF ------------------------------------------------------------------------------
def _pdf_string(text: str) -> bytes:
    raw = text.encode("cp1252")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def pdf_bytes(pages: Sequence[Sequence[str]], *, text: bool = True) -> bytes:
    """A valid PDF with one page per item, each line of it drawn as text (Helvetica,
    WinAnsi, so accents survive). ``text=False`` draws rectangles instead: a "scan"."""
    objects: list[bytes] = []
    n_pages = len(pages)
    font_id = 3 + 2 * n_pages
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(n_pages))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {n_pages} >>".encode())
    for i, lines in enumerate(pages):
        page_id, content_id = 3 + 2 * i, 4 + 2 * i
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents {content_id} 0 R"
            f" /Resources << /Font << /F1 {font_id} 0 R >> >> >>".encode()
        )
        if text:
            ops = [b"BT /F1 11 Tf 14 TL 56 780 Td"]
            ops += [_pdf_string(line) + b" Tj T*" for line in lines]
            ops.append(b"ET")
        else:
            ops = [f"{50 + 5 * j} {700 - 12 * j} 400 8 re f".encode() for j in range(len(lines))]
        stream = b"\n".join(ops)
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        assert page_id == 3 + 2 * i
    objects.append(
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
    )
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\n" % (len(objects) + 1))
    out.write(b"startxref\n%d\n%%%%EOF\n" % xref)
    return out.getvalue()


def write_pdf(path: Path, pages: Sequence[Sequence[str]], *, text: bool = True) -> Path:
    path.write_bytes(pdf_bytes(pages, text=text))
    return path


# --- DOCX -----------------------------------------------------------------------------
_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
    'relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.wordprocessingml.document.main+xml"/></Types>'
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="word/document.xml"/></Relationships>'
)


def _docx_paragraph(text: str) -> str:
    return f'<w:p><w:r><w:t xml:space="preserve">{escape(text)}</w:t></w:r></w:p>'


def docx_xml(paragraphs: Sequence[str], table: Sequence[Sequence[str]] = (), page_breaks=0) -> str:
    body = [_docx_paragraph(p) for p in paragraphs]
    if table:
        rows = "".join(
            "<w:tr>" + "".join(f"<w:tc>{_docx_paragraph(c)}</w:tc>" for c in row) + "</w:tr>"
            for row in table
        )
        body.append(f"<w:tbl>{rows}</w:tbl>")
    return (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="{_W}">'
        f"<w:body>{''.join(body)}</w:body></w:document>"
    )


def write_docx(
    path: Path,
    paragraphs: Sequence[str],
    table: Sequence[Sequence[str]] = (),
    *,
    pages: int | None = None,
    document_xml: str | bytes | None = None,
) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", _CONTENT_TYPES)
        z.writestr("_rels/.rels", _RELS)
        z.writestr("word/document.xml", document_xml or docx_xml(paragraphs, table))
        if pages is not None:
            z.writestr(
                "docProps/app.xml",
                '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/'
                f'extended-properties"><Pages>{pages}</Pages></Properties>',
            )
    return path


# --- ODT ------------------------------------------------------------------------------
_ODF_NS = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0" office:version="1.3"'
)


def write_odt(
    path: Path,
    paragraphs: Sequence[str],
    table: Sequence[Sequence[str]] = (),
    *,
    heading: str | None = None,
    items: Sequence[str] = (),
    pages: int | None = None,
) -> Path:
    body = []
    if heading:
        body.append(f'<text:h text:outline-level="1">{escape(heading)}</text:h>')
    for p in paragraphs:
        # Two spaces are written as <text:s/>, as LibreOffice does.
        body.append(f"<text:p>{escape(p).replace('  ', ' <text:s/>')}</text:p>")
    if items:
        lis = "".join(
            f"<text:list-item><text:p>{escape(i)}</text:p></text:list-item>" for i in items
        )
        body.append(f"<text:list>{lis}</text:list>")
    if table:
        rows = "".join(
            "<table:table-row>"
            + "".join(
                f"<table:table-cell><text:p>{escape(c)}</text:p></table:table-cell>" for c in row
            )
            + "</table:table-row>"
            for row in table
        )
        body.append(f'<table:table table:name="T1">{rows}</table:table>')
    content = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {_ODF_NS}>'
        f"<office:body><office:text>{''.join(body)}</office:text></office:body>"
        "</office:document-content>"
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.text", zipfile.ZIP_STORED)
        z.writestr("content.xml", content)
        if pages is not None:
            z.writestr(
                "meta.xml",
                f"<office:document-meta {_ODF_NS}><office:meta><meta:document-statistic "
                f'meta:page-count="{pages}"/></office:meta></office:document-meta>',
            )
    return path


def zip_bomb(path: Path, member: str, inflated_bytes: int) -> Path:
    """A small archive whose ``member`` inflates to ``inflated_bytes`` of spaces."""
    block = b" " * (1 << 20)
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z,
        z.open(member, "w", force_zip64=True) as out,
    ):
        for _ in range(inflated_bytes // len(block)):
            out.write(block)
    return path
