"""Conversation CRUD and search on one SQLite file.

WAL journal plus a commit per write means a ``kill -9`` in the middle of an answer
loses at most the last half second of text and never corrupts the file. One connection
is shared by the UI thread and the generation worker, serialised by a lock.
"""

from __future__ import annotations

import sqlite3
import threading
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from amalia_local.conversations.migrations import migrate

DATABASE_NAME = "conversations.db"
TITLE_LENGTH = 60
USER = "user"
ASSISTANT = "assistant"


@dataclass(frozen=True)
class StoredAttachment:
    """A document attached to a question (see amalia_local.documents.Document)."""

    name: str
    text: str
    sha256: str
    kind: str
    pages: int | None = None


@dataclass(frozen=True)
class StoredSource:
    """A passage a question was answered from (see services.passages)."""

    label: str  # "regulamento.pdf, p. 45 (Artigo 12.º)", as the model and the user see it
    file: str
    first_page: int | None
    last_page: int | None
    section: str
    score: float
    tokens: int
    given: bool  # sent with this question; False: already in the conversation


@dataclass(frozen=True)
class SearchedDocument:
    """A document a conversation reads in passages: its index is kept by this hash."""

    name: str
    sha256: str
    kind: str
    pages: int | None = None
    page_range: str | None = None


@dataclass(frozen=True)
class StoredMessage:
    id: int
    role: str
    content: str  # the question as typed; attached documents are in ``attachments``
    complete: bool = True
    stop_reason: str | None = None
    attachments: tuple[StoredAttachment, ...] = ()
    sources: tuple[StoredSource, ...] = ()


@dataclass(frozen=True)
class ConversationSummary:
    id: int
    title: str
    updated_at: str


@dataclass(frozen=True)
class Conversation:
    id: int
    title: str
    model: str | None
    created_at: str
    updated_at: str
    messages: list[StoredMessage] = field(default_factory=list)
    # None: not recorded (saved by an older release); "": held without one.
    system_prompt: str | None = None
    searched: tuple[SearchedDocument, ...] = ()


def title_from_question(question: str) -> str:
    """First line of the first question, shortened on a word boundary."""
    line = next((ln.strip() for ln in question.splitlines() if ln.strip()), "")
    if len(line) <= TITLE_LENGTH:
        return line
    cut = line[: TITLE_LENGTH - 1].rsplit(" ", 1)[0] or line[: TITLE_LENGTH - 1]
    return cut.rstrip(" ,.;:") + "…"


def fold(text: str | None) -> str:
    """Case- and accent-insensitive form, so 'acao' finds 'Ação' (SQLite's lower() is ASCII)."""
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


class ConversationStore:
    """All saved conversations; safe to call from the UI thread and one worker thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode = WAL")
        # NORMAL is durable against process crashes in WAL mode (only power loss can
        # drop the last commits), and keeps the per-half-second saves cheap.
        self._conn.execute("PRAGMA synchronous = NORMAL")
        self._conn.execute("PRAGMA foreign_keys = ON")
        self._conn.execute("PRAGMA busy_timeout = 5000")
        self._conn.create_function("fold", 1, fold, deterministic=True)
        with self._lock:
            migrate(self._conn)

    @classmethod
    def in_dir(cls, data_dir: Path) -> ConversationStore:
        return cls(data_dir / DATABASE_NAME)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    # --- conversations ----------------------------------------------------------------
    def create(self, title: str, model: str | None = None, system_prompt: str | None = None) -> int:
        """``system_prompt``: what the conversation is held with (None or "": none)."""
        now = _now()
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO conversations (title, model, created_at, updated_at, system_prompt)"
                " VALUES (?, ?, ?, ?, ?)",
                (title, model, now, now, system_prompt or ""),
            )
            return int(cursor.lastrowid or 0)

    def list(self, query: str = "") -> list[ConversationSummary]:
        """Newest first; ``query`` matches titles and message text, ignoring case and accents."""
        sql = "SELECT id, title, updated_at FROM conversations"
        params: tuple[str, ...] = ()
        needle = fold(query.strip())
        if needle:
            pattern = "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            pattern += "%"
            sql += (
                " WHERE fold(title) LIKE ? ESCAPE '\\' OR id IN (SELECT conversation_id"
                " FROM messages WHERE fold(content) LIKE ? ESCAPE '\\')"
            )
            params = (pattern, pattern)
        sql += " ORDER BY updated_at DESC, id DESC"
        with self._lock:
            rows = self._conn.execute(sql, params).fetchall()
        return [ConversationSummary(r["id"], r["title"], r["updated_at"]) for r in rows]

    def get(self, conversation_id: int) -> Conversation | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT * FROM conversations WHERE id = ?", (conversation_id,)
            ).fetchone()
            if row is None:
                return None
            messages = self._conn.execute(
                "SELECT id, role, content, complete, stop_reason FROM messages"
                " WHERE conversation_id = ? ORDER BY id",
                (conversation_id,),
            ).fetchall()
            attached: dict[int, list[StoredAttachment]] = {}
            for a in self._conn.execute(
                "SELECT a.* FROM attachments a JOIN messages m ON m.id = a.message_id"
                " WHERE m.conversation_id = ? ORDER BY a.message_id, a.position",
                (conversation_id,),
            ):
                attached.setdefault(a["message_id"], []).append(
                    StoredAttachment(a["name"], a["content"], a["sha256"], a["kind"], a["pages"])
                )
            cited: dict[int, list[StoredSource]] = {}
            for c in self._conn.execute(
                "SELECT s.* FROM sources s JOIN messages m ON m.id = s.message_id"
                " WHERE m.conversation_id = ? ORDER BY s.message_id, s.position",
                (conversation_id,),
            ):
                cited.setdefault(c["message_id"], []).append(
                    StoredSource(
                        c["label"],
                        c["file"],
                        c["first_page"],
                        c["last_page"],
                        c["section"],
                        c["score"],
                        c["tokens"],
                        bool(c["given"]),
                    )
                )
            searched = tuple(
                SearchedDocument(d["name"], d["sha256"], d["kind"], d["pages"], d["page_range"])
                for d in self._conn.execute(
                    "SELECT * FROM searched_documents WHERE conversation_id = ? ORDER BY id",
                    (conversation_id,),
                )
            )
        return Conversation(
            id=row["id"],
            title=row["title"],
            model=row["model"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            system_prompt=row["system_prompt"],
            searched=searched,
            messages=[
                StoredMessage(
                    m["id"],
                    m["role"],
                    m["content"],
                    bool(m["complete"]),
                    m["stop_reason"],
                    tuple(attached.get(m["id"], ())),
                    tuple(cited.get(m["id"], ())),
                )
                for m in messages
            ],
        )

    def rename(self, conversation_id: int, title: str) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE conversations SET title = ?, updated_at = ? WHERE id = ?",
                (title.strip(), _now(), conversation_id),
            )

    def set_system_prompt(self, conversation_id: int, system_prompt: str | None) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE conversations SET system_prompt = ? WHERE id = ?",
                (system_prompt or "", conversation_id),
            )

    def delete(self, conversation_id: int) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))

    # --- messages ---------------------------------------------------------------------
    def add_message(
        self,
        conversation_id: int,
        role: str,
        content: str,
        *,
        complete: bool = True,
        attachments: Sequence[StoredAttachment] = (),
        sources: Sequence[StoredSource] = (),
    ) -> int:
        """The message, its attachments and sources in one transaction: all, or none."""
        now = _now()
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO messages (conversation_id, role, content, complete, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (conversation_id, role, content, int(complete), now),
            )
            for position, a in enumerate(attachments):
                db.execute(
                    "INSERT INTO attachments (message_id, position, name, sha256, kind, pages,"
                    " content) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (cursor.lastrowid, position, a.name, a.sha256, a.kind, a.pages, a.text),
                )
            for position, c in enumerate(sources):
                db.execute(
                    "INSERT INTO sources (message_id, position, label, file, first_page,"
                    " last_page, section, score, tokens, given)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        cursor.lastrowid,
                        position,
                        c.label,
                        c.file,
                        c.first_page,
                        c.last_page,
                        c.section,
                        c.score,
                        c.tokens,
                        int(c.given),
                    ),
                )
            db.execute(
                "UPDATE conversations SET updated_at = ? WHERE id = ?", (now, conversation_id)
            )
            return int(cursor.lastrowid or 0)

    def update_message(
        self,
        message_id: int,
        content: str,
        *,
        complete: bool = False,
        stop_reason: str | None = None,
    ) -> None:
        """Save the text streamed so far (called every ~0.5 s) or the finished answer."""
        with self._transaction() as db:
            db.execute(
                "UPDATE messages SET content = ?, complete = ?, stop_reason = ? WHERE id = ?",
                (content, int(complete), stop_reason, message_id),
            )

    def add_searched(self, conversation_id: int, documents: Sequence[SearchedDocument]) -> None:
        """Remember documents the conversation reads in passages (each once)."""
        with self._transaction() as db:
            for d in documents:
                known = db.execute(
                    "SELECT 1 FROM searched_documents WHERE conversation_id = ? AND sha256 = ?"
                    " AND page_range IS ?",
                    (conversation_id, d.sha256, d.page_range),
                ).fetchone()
                if known is None:
                    db.execute(
                        "INSERT INTO searched_documents (conversation_id, name, sha256, kind,"
                        " pages, page_range) VALUES (?, ?, ?, ?, ?, ?)",
                        (conversation_id, d.name, d.sha256, d.kind, d.pages, d.page_range),
                    )

    def delete_messages_from(self, conversation_id: int, message_id: int) -> None:
        """Drop a message and everything after it (regenerate, edit the last question)."""
        with self._transaction() as db:
            db.execute(
                "DELETE FROM messages WHERE conversation_id = ? AND id >= ?",
                (conversation_id, message_id),
            )
            db.execute(
                "UPDATE conversations SET updated_at = ? WHERE id = ?", (_now(), conversation_id)
            )
