"""The sources of an answer and the documents a conversation searches, in the database:
saved with the question in one transaction, reopened, each document once, gone with the
conversation; a database from before them gains the tables and keeps its messages."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from amalia_local.conversations import (
    ConversationStore,
    SearchedDocument,
    StoredAttachment,
    StoredSource,
)
from amalia_local.conversations.migrations import MIGRATIONS, _statements

SOURCE = StoredSource(
    "regulamento.pdf, p. 12 (Artigo 50.º)", "regulamento.pdf", 12, 12, "Artigo 50.º", 4.2, 96, True
)
EXCERPT = StoredAttachment(SOURCE.label, "O prazo é de quinze dias.", "ab" * 32, "excerpt")
DOC = SearchedDocument("regulamento.pdf", "ab" * 32, "pdf", 300, None)


def test_sources_and_searched_documents_are_saved_and_reopened(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path / "c.db")
    cid = store.create("Prazo")
    store.add_searched(cid, [DOC])
    store.add_searched(cid, [DOC, SearchedDocument("atas.pdf", "cd" * 32, "pdf", 9, "1-3")])
    reused = SearchedDocument("regulamento.pdf", "ab" * 32, "pdf", 300, None)
    store.add_searched(cid, [reused])  # the same file again: kept once
    old = StoredSource("x, p. 3", "x", 3, 4, "", 1.0, 50, False)
    store.add_message(cid, "user", "Qual é o prazo?", attachments=[EXCERPT], sources=[SOURCE, old])
    store.add_message(cid, "assistant", "Quinze dias (regulamento.pdf, p. 12).")
    store.close()

    store = ConversationStore(tmp_path / "c.db")
    conversation = store.get(cid)
    question, answer = conversation.messages
    assert question.sources == (SOURCE, old) and answer.sources == ()
    assert [d.name for d in conversation.searched] == ["regulamento.pdf", "atas.pdf"]
    assert conversation.searched[1].page_range == "1-3"
    store.delete(cid)
    rows = store._conn.execute("SELECT count(*) FROM sources").fetchone()[0]
    rows += store._conn.execute("SELECT count(*) FROM searched_documents").fetchone()[0]
    assert rows == 0
    store.close()


def test_a_database_from_before_sources_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for number, script in MIGRATIONS[:4]:
        for statement in _statements(script):
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {number}")
    conn.execute("INSERT INTO conversations VALUES (1, 't', 'm', '2026', '2026', '')")
    conn.execute("INSERT INTO messages VALUES (1, 1, 'user', 'Olá', '2026', 1, NULL)")
    conn.execute("INSERT INTO attachments VALUES (1, 1, 0, 'a.txt', 'ff', 'text', NULL, 'x')")
    conn.close()
    store = ConversationStore(path)
    old = store.get(1)
    (message,) = old.messages
    assert message.attachments[0].name == "a.txt" and message.sources == ()
    assert old.searched == ()
    assert store._conn.execute("PRAGMA user_version").fetchone()[0] == MIGRATIONS[-1][0] == 5
    store.close()
