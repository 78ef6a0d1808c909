"""Files and folders dragged onto the terminal: they arrive as a paste of their paths.

How the path is written depends on the terminal: quoted when it has spaces
(``'/home/joão/Documentos Câmara'`` in GNOME Terminal and Konsole,
``"C:\\Users\\João Sá\\Documentos"`` in Windows Terminal), with escaped spaces
(``/home/joão/Documentos\\ Câmara`` in kitty and iTerm2), or as a ``file://`` URL,
percent-encoded, one a line (GNOME's file manager drags ``text/uri-list``). Backslashes
separate folders on Windows and escape characters elsewhere, so the split is told
which system it is on; :func:`split_pasted` is pure, so both are tested anywhere.
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path
from urllib.parse import unquote, urlparse

WINDOWS = os.name == "nt"


def pasted_paths(text: str, *, windows: bool = WINDOWS) -> list[Path] | None:
    """The files and folders a paste names, if it names nothing else; None for any
    other text, which is pasted as text. A folder must be given whole (an absolute
    path or a URL, as a drag gives it): a word that happens to name a folder here
    (``docs``, ``.``) is text."""
    paths = [_existing(item) for item in split_pasted(text, windows=windows)]
    found = [p for p in paths if p is not None]
    return found if found and len(found) == len(paths) else None


def split_pasted(text: str, *, windows: bool = WINDOWS) -> list[str]:
    """The paths in pasted text as written there: quotes and escapes undone, URLs made
    paths. A line that is a path as it stands (spaces and all) is one path; any other
    line is split as the system's shell would split it."""
    items: list[str] = []
    for line in (line.strip() for line in text.strip().splitlines()):
        if not line:
            continue
        if _existing(_from_url(line, windows)) is not None:
            items.append(_from_url(line, windows))
            continue
        try:
            words = _split_line(line, windows)
        except ValueError:  # an unclosed quote: text, not paths
            return []
        items.extend(_from_url(word, windows) for word in words)
    return items


def _split_line(line: str, windows: bool) -> list[str]:
    if not windows:
        return shlex.split(line)
    # Windows: quotes group, a backslash is a folder separator, never an escape.
    lexer = shlex.shlex(line, posix=True)
    lexer.whitespace_split = True
    lexer.escape = ""
    lexer.commenters = ""
    words = list(lexer)
    if words[:1] == ["&"]:  # PowerShell's call operator, before a dragged path
        words = words[1:]
    return words


def _from_url(text: str, windows: bool) -> str:
    if not text.startswith("file://"):
        return text
    url = urlparse(text)
    path = unquote(url.path)
    if not windows:
        return path
    # file:///C:/Users/Jo%C3%A3o -> C:\Users\João; file://server/share -> \\server\share
    if re.match(r"/[A-Za-z]:", path):
        path = path[1:]
    elif url.netloc and url.netloc != "localhost":
        path = f"//{url.netloc}{path}"
    return path.replace("/", "\\")


def _existing(text: str) -> Path | None:
    if not text:
        return None
    path = Path(text).expanduser()
    try:
        if path.is_file() or (path.is_absolute() and path.is_dir()):
            return path
    except OSError:  # a name too long, a path the system refuses
        return None
    return None
