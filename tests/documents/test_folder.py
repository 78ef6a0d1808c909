"""``--file DIR``: every document under a folder, named by its path in it; files it
cannot read are listed one line each and left out; past the stated limits, or with
nothing readable, one line and exit 1 before any model is loaded."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from document_files import write_docx, write_pdf

from amalia_local.documents.folder import (
    MAX_FOLDER_BYTES,
    MAX_FOLDER_FILES,
    FolderTooLarge,
    read_folder,
)

LINE = "O prazo de reclamação é de quinze dias úteis a contar da notificação."


def _folder(root: Path) -> Path:
    (root / "atas" / "2024").mkdir(parents=True)
    (root / ".git").mkdir()
    write_pdf(root / "regulamento.pdf", [["Artigo 1.º", LINE]])
    write_docx(root / "atas" / "janeiro.docx", ["Ata de janeiro.", LINE])
    (root / "atas" / "2024" / "notas.txt").write_text("Notas da reunião.", encoding="utf-8")
    (root / ".git" / "config.txt").write_text("hidden", encoding="utf-8")
    (root / "foto.png").write_bytes(b"\x89PNG\r\n\x1a\n")  # not a document: not looked at
    (root / "vazio.txt").write_bytes(b"")
    write_pdf(root / "digitalizado.pdf", [["scan"] * 5], text=False)  # image-only
    (root / "estragado.pdf").write_bytes(b"%PDF-1.4 nothing else")
    return root


def test_every_document_under_the_folder_is_read_and_the_rest_reported(tmp_path) -> None:
    found = read_folder(_folder(tmp_path / "docs"))
    assert [d.name for d in found.documents] == [
        "regulamento.pdf",
        "atas/janeiro.docx",
        "atas/2024/notas.txt",
    ]
    assert sorted(e.key for e in found.skipped) == [
        "document.corrupt",
        "document.no_text.any",
        "document.no_text.pdf",
    ]


def test_run_reads_a_folder_and_lists_what_it_left_out(amalia, tiny_model, tmp_path) -> None:
    folder = _folder(tmp_path / "docs")
    result = amalia(
        "run", str(tiny_model), "Qual é o prazo?", "--file", str(folder), "--ctx", "2048",
        "--json", "--max-tokens", "2", "--whole", env={"AMALIA_LANG": "en"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    names = sorted(d["name"] for d in json.loads(result.stdout)["documents"])
    assert names == ["atas/2024/notas.txt", "atas/janeiro.docx", "regulamento.pdf"]
    left_out = [line for line in result.stderr.splitlines() if "left out:" in line]
    assert len(left_out) == 3, result.stderr
    assert all(line.startswith("amalia: left out: ") for line in left_out)
    assert any("digitalizado.pdf has no text to read (a scanned PDF?)" in x for x in left_out)
    assert any("vazio.txt has no text" in x for x in left_out)
    assert any("estragado.pdf is not a valid PDF" in x for x in left_out)
    assert "Traceback" not in result.stderr


def _one_line_error(amalia, tiny_model, folder: Path, lang: str = "en") -> str:
    result = amalia(
        "run", str(tiny_model), "pergunta", "--file", str(folder), env={"AMALIA_LANG": lang}
    )
    assert result.returncode == 1, result.stderr
    (line,) = result.stderr.strip().splitlines()
    return line


def test_too_many_files_is_one_line(amalia, tiny_model, tmp_path) -> None:
    folder = tmp_path / "muitos"
    folder.mkdir()
    for n in range(MAX_FOLDER_FILES + 1):
        (folder / f"{n:04}.txt").write_text("texto", encoding="utf-8")
    line = _one_line_error(amalia, tiny_model, folder)
    assert line == (
        f"amalia: {folder} holds more than {MAX_FOLDER_FILES} documents, the most a folder "
        "may have; give a smaller folder or some of its files"
    )
    (folder / "0000.txt").unlink()  # at the limit: read
    assert len(read_folder(folder).documents) == MAX_FOLDER_FILES


def test_too_many_bytes_is_one_line_before_anything_is_read(amalia, tiny_model, tmp_path) -> None:
    folder = tmp_path / "grande"
    folder.mkdir()
    with open(folder / "enorme.pdf", "wb") as sparse:  # takes no disk: only its size counts
        sparse.truncate(MAX_FOLDER_BYTES + 1)
    with pytest.raises(FolderTooLarge):
        read_folder(folder)
    line = _one_line_error(amalia, tiny_model, folder, "pt")
    assert line.startswith(f"amalia: os documentos em {folder} ocupam mais de 500,0 MB, o máximo")


def test_a_folder_without_documents_is_one_line(amalia, tiny_model, tmp_path) -> None:
    folder = tmp_path / "nada"
    folder.mkdir()
    (folder / "foto.png").write_bytes(b"\x89PNG")
    (folder / "vazio.txt").write_bytes(b"")
    result = amalia("run", str(tiny_model), "p", "--file", str(folder), env={"AMALIA_LANG": "en"})
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[-1] == (
        f"amalia: {folder} holds no document amalia reads (PDF, DOCX, ODT, HTML or text)"
    )
    assert len(lines) == 2 and "left out" in lines[0]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any folder")
def test_an_unreadable_sub_folder_is_left_out(tmp_path) -> None:
    folder = _folder(tmp_path / "docs")
    locked = folder / "fechado"
    locked.mkdir()
    (locked / "x.txt").write_text("x", encoding="utf-8")
    locked.chmod(0)
    try:
        found = read_folder(folder)
    finally:
        locked.chmod(0o755)
    assert "document.unreadable" in [e.key for e in found.skipped]
    assert len(found.documents) == 3


def test_the_limits_are_stated_in_the_help(amalia) -> None:
    result = amalia("run", "--help")
    text = " ".join(result.stdout.split())
    assert f"at most {MAX_FOLDER_FILES} files, {MAX_FOLDER_BYTES // 10**6} MB" in text
