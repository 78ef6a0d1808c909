"""ChatService.read then ask, as the chat drives them across its worker: read decides
the passages and saves nothing (the chat may drop it: Esc, quitting), ask saves and
answers; a read made before the conversation moved on is refused, not asked."""

from __future__ import annotations

from pathlib import Path

import pytest
from document_files import write_pdf
from legal_documents import pages_of, regulation
from tiny_gguf import TinySpec, write_tiny_gguf

from amalia_local.conversations import ConversationStore
from amalia_local.conversations.store import ASSISTANT, USER
from amalia_local.documents import read_document
from amalia_local.engine.local import LocalModel
from amalia_local.engine.options import SamplingOptions
from amalia_local.services.chat import ChatService

SAMPLING = SamplingOptions(temperature=0.0, max_tokens=4)
N_CTX = 4096  # the tiny model's tokens are bytes: room for a few passages


def test_read_saves_nothing_and_a_stale_read_is_refused(open_engine, tmp_path: Path) -> None:
    model_file = write_tiny_gguf(tmp_path / "tiny-long.gguf", TinySpec(context_length=N_CTX))
    model = LocalModel(open_engine(model_file, n_ctx=N_CTX, n_threads=1))
    store = ConversationStore(tmp_path / "c.db")
    service = ChatService(model, store, None, cache_dir=tmp_path / "cache")
    pdf = write_pdf(tmp_path / "regulamento.pdf", pages_of(regulation(120)))
    document = read_document(pdf)

    first = service.read("Qual é o prazo para reclamar do indeferimento?", SAMPLING, [document])
    assert first.excerpts is not None and first.excerpts.chosen[0].passage.section == "Artigo 50.º"
    assert store.list() == [] and service.messages == [] and service.searched == ()
    dropped = service.read("e a licenca de ocupacao com esplanadas?", SAMPLING, [document])
    assert store.list() == []  # two reads, nothing saved: either may be dropped

    service.ask(first, SAMPLING).run(lambda _text: None)
    assert service.excerpts is first.excerpts
    with pytest.raises(ValueError):  # read against a conversation that has moved on
        service.ask(dropped, SAMPLING)
    (summary,) = store.list()
    conversation = store.get(summary.id)
    assert [m.role for m in conversation.messages] == [USER, ASSISTANT]
    assert conversation.messages[0].sources
    assert [d.name for d in conversation.searched] == ["regulamento.pdf"]
