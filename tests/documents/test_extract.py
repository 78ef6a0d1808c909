"""Each format read to the expected text (accents and a table included), and every bad
input refused with its own typed error, from files generated here."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest
from document_files import pdf_bytes, write_docx, write_odt, write_pdf, zip_bomb

from amalia_local.documents import errors as e
from amalia_local.documents import read_document
from amalia_local.documents.limits import MAX_XML_BYTES

ACCENTS = "Regulamento de ação social: prazos, isenções e órgãos — 15 dias úteis."
TABLE = [["Prazo", "Dias"], ["Reclamação", "15"], ["Recurso hierárquico", "30"]]


def test_utf8_text_and_markdown(tmp_path: Path) -> None:
    (tmp_path / "notas.txt").write_text(ACCENTS + "\r\n\r\n\r\n\r\nFim.  \n", encoding="utf-8")
    doc = read_document(tmp_path / "notas.txt")
    assert doc.text == ACCENTS + "\n\nFim."
    assert (doc.name, doc.kind, doc.pages) == ("notas.txt", "text", None)
    (tmp_path / "leia.md").write_bytes(b"\xef\xbb\xbf# T\xc3\xadtulo\n")  # with a BOM
    assert read_document(tmp_path / "leia.md").text == "# Título"


def test_windows_1252_and_latin1_text(tmp_path: Path) -> None:
    # "ANSI" from a Portuguese Windows PC: invalid UTF-8, including the cp1252-only "—".
    (tmp_path / "ansi.txt").write_bytes(ACCENTS.encode("cp1252"))
    assert read_document(tmp_path / "ansi.txt").text == ACCENTS
    # 0x81 is undefined in Windows-1252: Latin-1 still reads the rest.
    (tmp_path / "latin1.txt").write_bytes("ação".encode("latin-1") + b"\x81")
    assert read_document(tmp_path / "latin1.txt").text == "ação\x81"


def test_decomposed_accents_become_composed(tmp_path: Path) -> None:
    (tmp_path / "mac.txt").write_text("ac\u0327a\u0303o", encoding="utf-8")
    assert read_document(tmp_path / "mac.txt").text == "ação"


def test_pdf_text_layer_and_pages(tmp_path: Path) -> None:
    path = write_pdf(tmp_path / "despacho.pdf", [[ACCENTS], ["Segunda página."], ["Terceira."]])
    doc = read_document(path)
    assert (doc.kind, doc.pages) == ("pdf", 3)
    assert doc.text.split("\n\n") == [ACCENTS, "Segunda página.", "Terceira."]
    part = read_document(path, pages="2-")
    assert (part.text, part.pages, part.page_range) == ("Segunda página.\n\nTerceira.", 2, "2-")
    assert read_document(path, pages="3,1").text == f"Terceira.\n\n{ACCENTS}"


def test_docx_paragraphs_and_table(tmp_path: Path) -> None:
    path = write_docx(tmp_path / "regulamento.docx", [ACCENTS, "Artigo 2.º"], TABLE, pages=4)
    doc = read_document(path)
    assert doc.text == "\n".join(
        [
            ACCENTS,
            "Artigo 2.º",
            "| Prazo | Dias |",
            "| Reclamação | 15 |",
            "| Recurso hierárquico | 30 |",
        ]
    )
    assert (doc.kind, doc.pages) == ("docx", 4)


def test_odt_heading_spaces_list_and_table(tmp_path: Path) -> None:
    path = write_odt(
        tmp_path / "ata.odt",
        ["Presentes:  o presidente."],
        TABLE,
        heading="Ata n.º 7",
        items=["Aprovação", "Votação"],
        pages=2,
    )
    doc = read_document(path)
    assert doc.text == "\n".join(
        [
            "Ata n.º 7",
            "Presentes:  o presidente.",
            "- Aprovação",
            "- Votação",
            "| Prazo | Dias |",
            "| Reclamação | 15 |",
            "| Recurso hierárquico | 30 |",
        ]
    )
    assert (doc.kind, doc.pages) == ("odt", 2)


def test_html_visible_text(tmp_path: Path) -> None:
    (tmp_path / "pagina.html").write_text(
        "<html><head><title>x</title><style>p{}</style></head><body>"
        "<h1>Aviso</h1><p>Prazo de <b>15&nbsp;dias</b>\n úteis.</p><script>alert(1)</script>"
        "<ul><li>Um</li><li>Dois</li></ul>"
        "<table><tr><th>Prazo</th><th>Dias</th></tr><tr><td>Reclamação</td><td>15</td></tr>"
        "</table></body></html>",
        encoding="utf-8",
    )
    doc = read_document(tmp_path / "pagina.html")
    assert doc.text == "\n".join(
        ["Aviso", "Prazo de 15\xa0dias úteis.", "- Um", "- Dois", "| Prazo | Dias |",
         "| Reclamação | 15 |"]
    )  # fmt: skip


def test_same_file_same_sha256(tmp_path: Path) -> None:
    a = write_docx(tmp_path / "a.docx", ["Texto"])
    b = tmp_path / "b.docx"
    b.write_bytes(a.read_bytes())
    assert read_document(a).sha256 == read_document(b).sha256
    assert len(read_document(a).sha256) == 64


def test_unknown_extension_is_sniffed(tmp_path: Path) -> None:
    (tmp_path / "despacho").write_bytes(pdf_bytes([["Sem extensão."]]))
    assert read_document(tmp_path / "despacho").kind == "pdf"


# --- bad inputs ------------------------------------------------------------------------
def refused(path: Path, error: type[e.DocumentError], key: str, **kwargs: str) -> None:
    with pytest.raises(error) as caught:
        read_document(path, **kwargs)
    assert caught.value.key == key
    assert "\n" not in str(caught.value)


def test_scanned_pdf_without_text(tmp_path: Path) -> None:
    path = write_pdf(tmp_path / "scan.pdf", [["x", "y"], ["z"]], text=False)
    refused(path, e.DocumentWithoutText, "document.no_text.pdf")


def test_encrypted_pdf(tmp_path: Path) -> None:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(write_pdf(tmp_path / "a.pdf", [["Segredo."]])))
    writer.encrypt("segredo", algorithm="RC4-128")
    with open(tmp_path / "cifrado.pdf", "wb") as out:
        writer.write(out)
    refused(tmp_path / "cifrado.pdf", e.DocumentEncrypted, "document.encrypted")


def test_pdf_with_an_empty_user_password_opens(tmp_path: Path) -> None:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(write_pdf(tmp_path / "a.pdf", [["Aberto."]])))
    writer.encrypt("", owner_password="dono", algorithm="RC4-128")
    with open(tmp_path / "sem_impressao.pdf", "wb") as out:
        writer.write(out)
    assert read_document(tmp_path / "sem_impressao.pdf").text == "Aberto."


def test_corrupt_pdf(tmp_path: Path) -> None:
    data = pdf_bytes([["Texto."]])
    (tmp_path / "cortado.pdf").write_bytes(data[: len(data) // 3])
    refused(tmp_path / "cortado.pdf", e.DocumentError, "document.corrupt")
    (tmp_path / "falso.pdf").write_text("não sou um PDF", encoding="utf-8")
    refused(tmp_path / "falso.pdf", e.DocumentCorrupt, "document.corrupt")


def test_pages_out_of_range_or_malformed(tmp_path: Path) -> None:
    path = write_pdf(tmp_path / "d.pdf", [["a"], ["b"]])
    refused(path, e.BadPageRange, "document.pages_beyond", pages="3-4")
    refused(path, e.BadPageRange, "document.bad_pages", pages="dois")
    refused(path, e.BadPageRange, "document.bad_pages", pages="5-2")


def test_corrupt_docx_and_odt(tmp_path: Path) -> None:
    (tmp_path / "x.docx").write_bytes(b"PK\x03\x04 truncated")
    refused(tmp_path / "x.docx", e.DocumentCorrupt, "document.corrupt")
    with zipfile.ZipFile(tmp_path / "vazio.docx", "w") as z:
        z.writestr("outra.xml", "<a/>")
    refused(tmp_path / "vazio.docx", e.DocumentCorrupt, "document.corrupt")
    write_docx(tmp_path / "mau.docx", [], document_xml="<w:document><w:body>")
    refused(tmp_path / "mau.docx", e.DocumentCorrupt, "document.corrupt")
    (tmp_path / "x.odt").write_bytes(b"not a zip at all")
    refused(tmp_path / "x.odt", e.DocumentCorrupt, "document.corrupt")


def test_entity_expansion_is_refused(tmp_path: Path) -> None:
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
        "<w:document><w:body>&lol2;</w:body></w:document>"
    )
    write_docx(tmp_path / "risos.docx", [], document_xml=laughs)
    refused(tmp_path / "risos.docx", e.DocumentCorrupt, "document.corrupt")


def test_zip_bombs_are_refused_before_inflating(tmp_path: Path) -> None:
    # 200 MB of spaces in a ~200 kB archive: over the size limit (declared).
    bomb = zip_bomb(tmp_path / "bomba.docx", "word/document.xml", 200 * 1024 * 1024)
    assert bomb.stat().st_size < 1024 * 1024
    refused(bomb, e.DocumentTooLarge, "document.too_large")
    # Under the size limit but inflating far more than any text does: the ratio.
    ratio = zip_bomb(tmp_path / "razao.odt", "content.xml", MAX_XML_BYTES // 2)
    refused(ratio, e.DocumentTooLarge, "document.too_large")


def test_zip_whose_declared_size_lies(tmp_path: Path) -> None:
    """A member that claims 1 kB but inflates to 65 MB: never inflated past its claim."""
    big = zip_bomb(tmp_path / "b.zip", "word/document.xml", MAX_XML_BYTES + (1 << 20))
    (tmp_path / "mente.docx").write_bytes(with_declared_size(big.read_bytes(), 1024))
    with zipfile.ZipFile(tmp_path / "mente.docx") as z:
        assert z.getinfo("word/document.xml").file_size == 1024
    refused(tmp_path / "mente.docx", e.DocumentCorrupt, "document.corrupt")


def with_declared_size(data: bytes, size: int) -> bytes:
    """The one-member zip `data` with `size` written where both of its headers declare the
    uncompressed size, found by offset: the same four bytes may also occur, by chance, in the
    compressed stream (they did with Debian's zlib), so a search-and-replace is not safe."""
    patched = bytearray(data)
    end = data.rindex(b"PK\x05\x06")  # end of central directory: its offset at +16
    central = int.from_bytes(data[end + 16 : end + 20], "little")
    local = int.from_bytes(data[central + 42 : central + 46], "little")
    assert data[central : central + 4] == b"PK\x01\x02" and data[local : local + 4] == b"PK\x03\x04"
    patched[local + 22 : local + 26] = size.to_bytes(4, "little")
    patched[central + 24 : central + 28] = size.to_bytes(4, "little")
    return bytes(patched)


def test_binary_file(tmp_path: Path) -> None:
    (tmp_path / "foto.txt").write_bytes(bytes(range(256)) * 8)
    refused(tmp_path / "foto.txt", e.DocumentUnsupported, "document.unsupported")
    (tmp_path / "programa").write_bytes(b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 64)
    refused(tmp_path / "programa", e.DocumentUnsupported, "document.unsupported")


def test_folder_missing_and_unreadable(tmp_path: Path) -> None:
    refused(tmp_path, e.DocumentIsFolder, "document.folder")
    refused(tmp_path / "nada.pdf", e.DocumentMissing, "document.missing")
    # A file that opens and then fails to read, as on a damaged disk, for root too (CI
    # runs as root, where a chmod 0 file stays readable): reading /proc/self/mem from
    # offset 0 fails with EIO.
    if not Path("/proc/self/mem").exists():
        pytest.skip("needs Linux's /proc/self/mem for a read error")
    damaged = tmp_path / "danificado.txt"
    damaged.symlink_to("/proc/self/mem")
    refused(damaged, e.DocumentUnreadable, "document.unreadable")


def test_a_file_without_read_permission(tmp_path: Path) -> None:
    locked = tmp_path / "fechado.txt"
    locked.write_text("x")
    locked.chmod(0)
    try:
        if os.access(locked, os.R_OK):
            pytest.skip("running as root: permissions do not stop reading")
        refused(locked, e.DocumentUnreadable, "document.unreadable")
    finally:
        locked.chmod(0o600)


def test_empty_document(tmp_path: Path) -> None:
    (tmp_path / "vazio.txt").write_text("  \n\n", encoding="utf-8")
    refused(tmp_path / "vazio.txt", e.DocumentWithoutText, "document.no_text.any")
