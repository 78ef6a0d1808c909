"""The passages of one document and their search index, in one SQLite file, built once.

The file lives under the cache folder, named by the document's SHA-256 (and the pages
chosen), so the same document attached again, in a follow-up or in a new process, is
split and stemmed only the first time; a changed file has another hash and gets its
own. It is built under a temporary name in the same folder and renamed into place: a
crash or a second process never leaves or reads half an index.

Search is SQLite's FTS5 (the standard library's sqlite3, Windows' CPython included)
with its BM25 ranking over a column of Portuguese stems (``words.stems``); the
``unicode61`` tokenizer folds whatever accents remain (``remove_diacritics 2``). A
question's stems are matched as prefixes too when they have four letters or more:
Snowball leaves ``candidatar``/``candidaturas`` as ``candidat``/``candidatur`` and
``obra``/``obras`` apart, and a prefix brings them together.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from amalia_local.documents.document import Document
from amalia_local.passages.split import Passage, split_document
from amalia_local.passages.words import stems

FORMAT = 1  # bump when the split or the stems change: old indexes are then ignored
PREFIX_FROM = 4  # a question's stems this long also match as prefixes
# BM25 gives ~0 to a passage that shares only words found nearly everywhere ("câmara" in
# a municipal regulation): that is no match. FTS5's BM25 also gives ~0 to a word in half
# of a handful of passages, so the floor applies from SCORE_FLOOR_FROM passages on.
MIN_SCORE = 0.05
SCORE_FLOOR_FROM = 20
_TOKENIZER = "unicode61 remove_diacritics 2"
_SCHEMA = f"""
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE passages (
    id INTEGER PRIMARY KEY,
    file TEXT NOT NULL,
    first_page INTEGER,
    last_page INTEGER,
    section TEXT NOT NULL,
    text TEXT NOT NULL,
    stems TEXT NOT NULL
);
CREATE VIRTUAL TABLE search USING fts5(stems, content='', tokenize='{_TOKENIZER}');
"""


@dataclass(frozen=True)
class Hit:
    passage: Passage
    score: float  # BM25, higher is better


def index_path(cache_dir: Path, document: Document) -> Path:
    """Where ``document``'s index is kept: by its bytes' hash and the pages read."""
    name = document.sha256
    if document.page_range:
        name += "-" + hashlib.sha256(document.page_range.encode()).hexdigest()[:12]
    return cache_dir / "passages" / f"{name}.v{FORMAT}.sqlite"


class PassageIndex:
    """One document's passages and their FTS5 index, read from its file."""

    def __init__(self, path: Path, name: str | None = None) -> None:
        """``name``: the document's name now, which its passages then carry (the same
        file may have been indexed under another name: alone, or in a folder)."""
        self.path = path
        self.name = name
        self._db = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, check_same_thread=False)

    @classmethod
    def open(
        cls,
        document: Document,
        cache_dir: Path,
        progress: ProgressFor | None = None,
    ) -> PassageIndex:
        """The index of ``document``, built first if the cache does not have it.

        ``progress(total)`` may return a bar that shows the passages indexed."""
        path = index_path(cache_dir, document)
        if not _complete(path):
            build(document, path, progress)
        return cls(path, document.name)

    @classmethod
    def cached(cls, document: Document, cache_dir: Path) -> PassageIndex | None:
        """The index of ``document`` if the cache has it (only its hash, pages and name
        are looked at: a follow-up needs no text); None if not."""
        path = index_path(cache_dir, document)
        return cls(path, document.name) if _complete(path) else None

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> PassageIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __len__(self) -> int:
        return self._db.execute("SELECT count(*) FROM passages").fetchone()[0]

    def passages(self) -> list[tuple[Passage, str]]:
        """Every passage with its stems, in the document's order."""
        rows = self._db.execute(
            "SELECT file, first_page, last_page, section, text, stems FROM passages ORDER BY id"
        )
        return [(_passage(row, self.name), row[5]) for row in rows]

    def search(self, question: str, limit: int = 50) -> list[Hit]:
        return _search(self._db, question, limit, self.name)


def search_many(indexes: Sequence[PassageIndex], question: str, limit: int = 50) -> list[Hit]:
    """The best passages of several documents, ranked together: one BM25 over all of
    them (each index's own scores are not comparable, their word counts differ)."""
    if len(indexes) == 1:
        return indexes[0].search(question, limit)
    db = sqlite3.connect(":memory:")
    try:
        db.executescript(_SCHEMA)
        for index in indexes:
            _insert(db, ((p, s) for p, s in index.passages()))
        return _search(db, question, limit)
    finally:
        db.close()


class Bar(Protocol):
    """What shows indexing progress (``progress.Progress``): entered, updated, left."""

    def __enter__(self) -> Bar: ...
    def __exit__(self, exc_type: object, *rest: object) -> None: ...
    def update(self, n: int) -> None: ...


ProgressFor = Callable[[int], "Bar | None"]  # given the passages to index


def build(document: Document, path: Path, progress: ProgressFor | None = None) -> None:
    """Split, stem and index ``document`` into ``path`` (temporary name, then renamed)."""
    passages = split_document(document)
    bar = progress(len(passages)) if progress is not None else None
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        with bar if bar is not None else contextlib.nullcontext():
            _build(document, passages, tmp, bar)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _build(document: Document, passages: list[Passage], tmp: str, bar: Bar | None) -> None:
    db = sqlite3.connect(tmp)
    try:
        db.execute("PRAGMA journal_mode=OFF")  # a temporary file: nothing to roll back to
        db.executescript(_SCHEMA)

        def stemmed() -> Iterable[tuple[Passage, str]]:
            for passage in passages:
                yield passage, " ".join(stems(f"{passage.section}\n{passage.text}"))
                if bar is not None:
                    bar.update(1)

        _insert(db, stemmed())
        db.executemany(
            "INSERT INTO meta VALUES (?, ?)",
            [
                ("format", str(FORMAT)),
                ("sha256", document.sha256),
                ("pages", document.page_range or ""),
                ("passages", str(len(passages))),
            ],
        )
        db.commit()
    finally:
        db.close()


def _insert(db: sqlite3.Connection, rows: Iterable[tuple[Passage, str]]) -> None:
    for passage, stemmed in rows:
        cursor = db.execute(
            "INSERT INTO passages (file, first_page, last_page, section, text, stems)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                passage.file,
                passage.first_page,
                passage.last_page,
                passage.section,
                passage.text,
                stemmed,
            ),
        )
        db.execute("INSERT INTO search (rowid, stems) VALUES (?, ?)", (cursor.lastrowid, stemmed))


def _complete(path: Path) -> bool:
    """Whether ``path`` is a finished index of this format (a damaged file is rebuilt)."""
    if not path.is_file():
        return False
    try:
        db = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
        try:
            row = db.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
        finally:
            db.close()
    except sqlite3.Error:
        return False
    return row is not None and row[0] == str(FORMAT)


def match_expression(question: str) -> str | None:
    """The FTS5 query for ``question``: any of its stems (stopwords left out), the
    longer ones as prefixes too; None when no word of it could match."""
    terms: list[str] = []
    for term in dict.fromkeys(stems(question, keep_stopwords=False)):
        quoted = '"' + term.replace('"', "") + '"'
        terms.append(quoted + ("*" if len(term) >= PREFIX_FROM else ""))
    return " OR ".join(terms) if terms else None


def _search(
    db: sqlite3.Connection, question: str, limit: int, name: str | None = None
) -> list[Hit]:
    expression = match_expression(question)
    if expression is None:
        return []
    rows = db.execute(
        "SELECT p.file, p.first_page, p.last_page, p.section, p.text, bm25(search)"
        " FROM search JOIN passages p ON p.id = search.rowid"
        " WHERE search MATCH ? ORDER BY bm25(search) LIMIT ?",
        (expression, limit),
    ).fetchall()
    hits = [Hit(_passage(row, name), -row[5]) for row in rows]
    if db.execute("SELECT count(*) FROM passages").fetchone()[0] < SCORE_FLOOR_FROM:
        return hits
    return [hit for hit in hits if hit.score >= MIN_SCORE]


def _passage(row: Sequence, name: str | None = None) -> Passage:
    file, first_page, last_page, section, text = row[:5]
    return Passage(name or file, text, first_page, last_page, section)
