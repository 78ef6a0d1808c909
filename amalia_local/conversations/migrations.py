"""Numbered schema migrations for the conversations database.

The schema version lives in SQLite's ``user_version``. Migrations are only ever
appended, never edited, so a history written by any older release opens in a newer
one: each missing step runs once, in order, inside its own transaction.
"""

from __future__ import annotations

import sqlite3

from amalia_local.errors import AmaliaError

MIGRATIONS: tuple[tuple[int, str], ...] = (
    (
        1,
        """
        CREATE TABLE conversations (
            id INTEGER PRIMARY KEY,
            title TEXT NOT NULL,
            model TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE messages (
            id INTEGER PRIMARY KEY,
            conversation_id INTEGER NOT NULL
                REFERENCES conversations(id) ON DELETE CASCADE,
            role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
            content TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE INDEX messages_by_conversation ON messages(conversation_id, id);
        """,
    ),
    (
        2,
        """
        -- An answer is written while it streams; 'complete' tells a finished answer from
        -- one cut short by a crash, and stop_reason says why a finished one ended.
        ALTER TABLE messages ADD COLUMN complete INTEGER NOT NULL DEFAULT 1;
        ALTER TABLE messages ADD COLUMN stop_reason TEXT;
        """,
    ),
    (
        3,
        """
        -- The system prompt a conversation was held with, so continuing it renders the
        -- same prompt (and reuses its saved KV state). NULL: unknown (saved before this
        -- migration); '' : none.
        ALTER TABLE conversations ADD COLUMN system_prompt TEXT;
        """,
    ),
    (
        4,
        """
        -- Documents attached to a question: their extracted text as the model read it
        -- (the prompt is rebuilt from it, identical, when the conversation continues),
        -- the file's name and the SHA-256 of its bytes (which version it was).
        CREATE TABLE attachments (
            id INTEGER PRIMARY KEY,
            message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            name TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            kind TEXT NOT NULL,
            pages INTEGER,
            content TEXT NOT NULL
        );
        CREATE INDEX attachments_by_message ON attachments(message_id, position);
        """,
    ),
    (
        5,
        """
        -- The passages a question was answered from when its documents were read in
        -- excerpts: listed under the answer and in the export. 'given' is 1 for a
        -- passage sent with this question, 0 for one already in the conversation.
        CREATE TABLE sources (
            id INTEGER PRIMARY KEY,
            message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            label TEXT NOT NULL,
            file TEXT NOT NULL,
            first_page INTEGER,
            last_page INTEGER,
            section TEXT NOT NULL,
            score REAL NOT NULL,
            tokens INTEGER NOT NULL,
            given INTEGER NOT NULL
        );
        CREATE INDEX sources_by_message ON sources(message_id, position);
        -- The documents a conversation reads in passages, by the hash their index is
        -- kept under: a follow-up, here or after a restart, searches them again.
        CREATE TABLE searched_documents (
            id INTEGER PRIMARY KEY,
            conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            kind TEXT NOT NULL,
            pages INTEGER,
            page_range TEXT
        );
        CREATE INDEX searched_by_conversation ON searched_documents(conversation_id, id);
        """,
    ),
)

LATEST_VERSION = MIGRATIONS[-1][0]


class NewerSchemaError(AmaliaError):
    """The file was written by a newer amalia-local; we must not touch it."""


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the schema up to :data:`LATEST_VERSION`; returns the version found."""
    found = schema_version(conn)
    if found > LATEST_VERSION:
        raise NewerSchemaError("error.conversations_newer", found=found, known=LATEST_VERSION)
    for number, script in MIGRATIONS:
        if number <= found:
            continue
        # executescript() commits first, so run the statements ourselves to keep each
        # migration and its version bump in one transaction.
        conn.execute("BEGIN")
        try:
            for statement in _statements(script):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return found


def _statements(script: str) -> list[str]:
    lines = [line for line in script.splitlines() if not line.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
