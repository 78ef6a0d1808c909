"""The conversation store on its own: migrations, CRUD, search, Markdown export."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from amalia_local.conversations import ConversationStore, title_from_question, to_markdown
from amalia_local.conversations.migrations import LATEST_VERSION, MIGRATIONS, NewerSchemaError
from amalia_local.i18n import Translator


@pytest.fixture
def store(tmp_path: Path):
    s = ConversationStore(tmp_path / "c.db")
    yield s
    s.close()


def test_new_database_is_at_latest_version_in_wal_mode(tmp_path: Path):
    ConversationStore(tmp_path / "c.db").close()
    conn = sqlite3.connect(tmp_path / "c.db")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == LATEST_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_old_database_is_migrated_and_keeps_its_messages(tmp_path: Path):
    path = tmp_path / "c.db"
    conn = sqlite3.connect(path)
    conn.executescript(MIGRATIONS[0][1])
    conn.execute("PRAGMA user_version = 1")
    conn.execute("INSERT INTO conversations VALUES (1, 'Antiga', NULL, '2025-01-01', '2025-01-01')")
    conn.execute("INSERT INTO messages VALUES (1, 1, 'user', 'Olá', '2025-01-01')")
    conn.commit()
    conn.close()
    with_store = ConversationStore(path)
    conversation = with_store.get(1)
    with_store.close()
    assert conversation is not None
    assert conversation.title == "Antiga"
    assert conversation.messages[0].content == "Olá"
    assert conversation.messages[0].complete


def test_newer_database_is_refused(tmp_path: Path):
    path = tmp_path / "c.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {LATEST_VERSION + 1}")
    conn.close()
    with pytest.raises(NewerSchemaError):
        ConversationStore(path)


def test_crud_and_order(store: ConversationStore):
    first = store.create("Primeira")
    second = store.create("Segunda")
    store.add_message(first, "user", "pergunta")
    assert [c.id for c in store.list()] == [first, second]
    store.rename(second, "  Outro nome ")
    assert store.get(second).title == "Outro nome"
    store.delete(first)
    assert store.get(first) is None
    assert [c.id for c in store.list()] == [second]


def test_partial_answer_is_updated_then_completed(store: ConversationStore):
    cid = store.create("x")
    mid = store.add_message(cid, "assistant", "", complete=False)
    store.update_message(mid, "meia resp")
    assert store.get(cid).messages[-1].complete is False
    store.update_message(mid, "meia resposta", complete=True, stop_reason="cancelled")
    message = store.get(cid).messages[-1]
    assert (message.content, message.complete, message.stop_reason) == (
        "meia resposta",
        True,
        "cancelled",
    )


def test_search_ignores_case_and_accents_and_looks_inside_messages(store: ConversationStore):
    a = store.create("Receitas")
    store.add_message(a, "user", "Como se faz a Açorda alentejana?")
    b = store.create("Viagem a Évora")
    store.create("100% certo")
    assert [c.id for c in store.list("acorda")] == [a]
    assert [c.id for c in store.list("EVORA")] == [b]
    assert [c.title for c in store.list("%")] == ["100% certo"]
    assert store.list("inexistente") == []


def test_delete_messages_from_cuts_the_tail(store: ConversationStore):
    cid = store.create("x")
    store.add_message(cid, "user", "1")
    second = store.add_message(cid, "assistant", "2")
    store.add_message(cid, "user", "3")
    store.delete_messages_from(cid, second)
    assert [m.content for m in store.get(cid).messages] == ["1"]


def test_title_from_question():
    assert title_from_question("\n  Qual é a capital?\nmais") == "Qual é a capital?"
    long = "palavra " * 20
    title = title_from_question(long)
    assert len(title) <= 60
    assert title.endswith("…")


def test_markdown_export_in_both_languages(store: ConversationStore):
    cid = store.create("Capital", model="SmolLM2")
    store.add_message(cid, "user", "Qual é a capital?")
    mid = store.add_message(cid, "assistant", "", complete=False)
    store.update_message(mid, "É **Lisboa**.", complete=True, stop_reason="cancelled")
    conversation = store.get(cid)
    pt = to_markdown(conversation, Translator("pt"))
    assert pt.startswith("# Capital\n")
    assert "- Modelo: SmolLM2" in pt
    assert "## Utilizador\n\nQual é a capital?\n" in pt
    assert "## Assistente\n\nÉ **Lisboa**.\n" in pt
    assert "*(resposta interrompida)*" in pt
    en = to_markdown(conversation, Translator("en"))
    assert "## User" in en and "*(answer interrupted)*" in en
