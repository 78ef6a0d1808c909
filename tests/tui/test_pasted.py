"""Paths pasted by dragging files and folders onto a terminal, as each terminal writes
them: quoted, with escaped spaces, as percent-encoded file:// URLs, and Windows paths
(whose backslashes separate folders, not escape)."""

from __future__ import annotations

from pathlib import Path

import pytest

from amalia_local.tui.pasted import pasted_paths, split_pasted


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("'/home/joão/Documentos Câmara'", ["/home/joão/Documentos Câmara"]),  # GNOME, Konsole
        ("'/home/joão/Documentos Câmara' ", ["/home/joão/Documentos Câmara"]),  # trailing space
        ("/home/joão/Documentos\\ Câmara", ["/home/joão/Documentos Câmara"]),  # kitty, iTerm2
        (
            "file:///home/jo%C3%A3o/Documentos%20C%C3%A2mara\r\nfile:///home/jo%C3%A3o/ata.pdf\r\n",
            ["/home/joão/Documentos Câmara", "/home/joão/ata.pdf"],  # text/uri-list
        ),
        ("'/tmp/a b.pdf' '/tmp/c.pdf'", ["/tmp/a b.pdf", "/tmp/c.pdf"]),
        ("'/tmp/unclosed", []),
    ],
)
def test_posix_forms(text: str, expected: list[str]) -> None:
    assert split_pasted(text, windows=False) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Windows Terminal quotes a path with spaces, backslashes and all.
        ('"C:\\Users\\João Sá\\Documentos"', ["C:\\Users\\João Sá\\Documentos"]),
        ("C:\\Users\\Joao\\Atas", ["C:\\Users\\Joao\\Atas"]),  # no spaces: not quoted
        (
            '"C:\\Users\\João Sá\\ata 1.pdf" C:\\Atas\\ata2.pdf',
            ["C:\\Users\\João Sá\\ata 1.pdf", "C:\\Atas\\ata2.pdf"],
        ),
        ("& 'C:\\Users\\João Sá\\Documentos'", ["C:\\Users\\João Sá\\Documentos"]),  # PowerShell
        (
            "file:///C:/Users/Jo%C3%A3o%20S%C3%A1/Documentos",
            ["C:\\Users\\João Sá\\Documentos"],
        ),
        ("file://servidor/partilha/atas", ["\\\\servidor\\partilha\\atas"]),
    ],
)
def test_windows_forms(text: str, expected: list[str]) -> None:
    assert split_pasted(text, windows=True) == expected


def test_a_folder_given_whole_is_a_path_a_word_is_text(tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "Documentos Câmara"
    folder.mkdir()
    (folder / "ata.txt").write_text("Presentes: todos.", encoding="utf-8")
    assert pasted_paths(f"'{folder}'", windows=False) == [folder]
    assert pasted_paths(f"{folder}", windows=False) == [folder]  # unquoted, spaces and all
    assert pasted_paths(folder.as_uri(), windows=False) == [folder]
    monkeypatch.chdir(tmp_path)
    # A folder named by a word or "." is what a user types, not what a drag pastes.
    assert pasted_paths(".", windows=False) is None
    assert pasted_paths("'Documentos Câmara'", windows=False) is None
    # A file named relatively still is a path (a drag from the current folder).
    assert pasted_paths("'Documentos Câmara/ata.txt'", windows=False) == [
        Path("Documentos Câmara/ata.txt")
    ]
    # Anything that is not a path makes the whole paste text.
    assert pasted_paths(f"'{folder}' and more words", windows=False) is None
