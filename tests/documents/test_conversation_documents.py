"""Attached documents in the conversations database: saved with their question in one
transaction, reopened and exported whole; an older database gains the tables."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from amalia_local.conversations import ConversationStore, StoredAttachment, to_markdown
from amalia_local.conversations.migrations import MIGRATIONS, _statements
from amalia_local.documents import compose
from amalia_local.i18n import Translator
from amalia_local.services.chat import conversation_system_prompt, model_messages

DOC = StoredAttachment("ata.odt", "Ata n.º 7\n| Prazo | 15 |", "ab" * 32, "odt", 2)


def test_attachments_are_saved_reopened_and_exported(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path / "c.db")
    cid = store.create("Ata", "amalia", "Sê breve.")
    store.add_message(cid, "user", "Qual é o prazo?", attachments=[DOC])
    store.add_message(cid, "assistant", "15 dias.")
    store.close()

    store = ConversationStore(tmp_path / "c.db")
    conversation = store.get(cid)
    store.close()
    question, answer = conversation.messages
    assert question.content == "Qual é o prazo?" and question.attachments == (DOC,)
    assert answer.attachments == ()
    assert conversation.system_prompt == "Sê breve."
    # The model reads the same framed message as when it was asked.
    assert model_messages(conversation)[0].content == compose("Qual é o prazo?", [DOC])
    assert model_messages(conversation)[0].content.startswith('<documento nome="ata.odt">\n')

    exported = to_markdown(conversation, Translator("en"))
    assert f"Attached file: ata.odt (SHA-256 {'ab' * 32})" in exported
    assert "Ata n.º 7\n| Prazo | 15 |" in exported
    assert exported.index("Ata n.º 7") < exported.index("Qual é o prazo?")


def test_a_failed_attachment_saves_no_question(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path / "c.db")
    cid = store.create("x")
    broken = StoredAttachment("a", None, "0", "text")  # type: ignore[arg-type]  # NOT NULL
    with pytest.raises(sqlite3.IntegrityError):
        store.add_message(cid, "user", "Pergunta", attachments=[DOC, broken])
    assert store.get(cid).messages == []
    store.close()


def test_a_database_from_before_documents_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for number, script in MIGRATIONS[:2]:
        for statement in _statements(script):
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {number}")
    conn.execute("INSERT INTO conversations VALUES (1, 't', 'm', '2026', '2026')")
    conn.execute("INSERT INTO messages VALUES (1, 1, 'user', 'Olá', '2026', 1, NULL)")
    conn.close()
    store = ConversationStore(path)
    old = store.get(1)
    store.close()
    assert old.messages[0].attachments == ()
    # Its system prompt was never recorded: it continues with the one chosen now.
    assert old.system_prompt is None
    assert conversation_system_prompt(old, "Escolhido") == "Escolhido"
    assert conversation_system_prompt(old, "Escolhido", override=True) == "Escolhido"
