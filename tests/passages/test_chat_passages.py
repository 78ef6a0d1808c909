"""A conversation about a document too long for the context (services.chat, as the chat
and ``run`` drive it): the question gets passages; a follow-up searches again, gives only
passages the conversation does not hold yet, after the history (the prefix the model
has read is reused, not read again); sources and the documents searched are saved, so a
reopened conversation searches them too; a question nothing matches is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from document_files import write_pdf
from legal_documents import pages_of, regulation

from amalia_local.conversations import ConversationStore, to_markdown
from amalia_local.documents import read_document
from amalia_local.engine.local import LocalModel
from amalia_local.engine.options import SamplingOptions
from amalia_local.i18n import Translator
from amalia_local.services.chat import ChatService
from amalia_local.services.passages import NoMatchingPassage

pytestmark = pytest.mark.smollm
SAMPLING = SamplingOptions(temperature=0.0, max_tokens=4)


@pytest.fixture(scope="module")
def long_pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_pdf(tmp_path_factory.mktemp("long") / "regulamento.pdf", pages_of(regulation(200)))


def ask(service: ChatService, question: str, documents=()):
    answer = service.send(question, SAMPLING, list(documents))
    excerpts = service.excerpts
    return excerpts, answer.run(lambda _text: None)


def test_follow_ups_search_again_and_give_only_what_is_new(
    smollm, open_engine, long_pdf, tmp_path
) -> None:
    model = LocalModel(open_engine(smollm, n_ctx=2048, n_threads=2))
    store = ConversationStore(tmp_path / "c.db")
    cache = tmp_path / "cache"
    service = ChatService(model, store, None, cache_dir=cache)
    document = read_document(long_pdf)

    first, stats1 = ask(service, "Qual é o prazo para reclamar do indeferimento?", [document])
    assert first is not None and first.chosen[0].passage.section == "Artigo 50.º"
    assert all(not c.in_context for c in first.chosen)
    assert stats1.prompt_tokens < 2048  # passages, not the document
    given_first = {(c.excerpt.name, c.excerpt.text) for c in first.chosen}

    # A follow-up with no document attached: searched again, other passages found.
    second, stats2 = ask(service, "e a licenca de ocupacao da via publica com esplanadas?")
    assert second is not None and second.chosen[0].passage.section == "Artigo 25.º"
    for chosen in second.chosen:
        assert chosen.in_context == ((chosen.excerpt.name, chosen.excerpt.text) in given_first)
    assert second.given  # something new was sent...
    # ...after the history: everything read before was kept and only the rest was read.
    # (The last token sampled of a cut answer was never evaluated: one less at most.)
    assert stats2.prompt_tokens_cached >= stats1.prompt_tokens + stats1.generated_tokens - 1
    assert stats2.prompt_tokens_evaluated == stats2.prompt_tokens - stats2.prompt_tokens_cached
    assert second.tokens == sum(c.tokens for c in second.given)

    # Asked again about what it was given first: found, but not sent a second time.
    third, _ = ask(service, "prazos de reclamação do indeferimento")
    assert third is not None
    best = third.chosen[0]
    assert best.passage.section == "Artigo 50.º" and best.in_context
    assert best.excerpt not in third.documents
    summary = third.summary(Translator("en"))
    assert "already in the conversation" in summary

    # Saved: the sources of each question and the document searched (by its hash).
    conversation = store.get(service.conversation_id)
    questions = [m for m in conversation.messages if m.role == "user"]
    assert [s.label for s in questions[0].sources] == [c.excerpt.name for c in first.chosen]
    assert [s.given for s in questions[2].sources] == [not c.in_context for c in third.chosen]
    (searched,) = conversation.searched
    assert (searched.name, searched.sha256) == ("regulamento.pdf", document.sha256)
    exported = to_markdown(conversation, Translator("pt"))
    assert exported.count("**Fontes:**") == 3
    assert f"- {first.chosen[0].excerpt.name}" in exported
    assert "(já na conversa)" in exported

    # Reopened (a new process would do the same): follow-ups still search the document,
    # from its index in the cache alone.
    reopened = ChatService(model, store, None, conversation, cache_dir=cache)
    fourth, _ = ask(reopened, "a que horas abre o mercado?")
    assert fourth is not None and fourth.chosen[0].passage.section == "Artigo 100.º"
    store.close()


def test_nothing_matching_is_refused_first_and_left_to_the_history_after(
    smollm, open_engine, long_pdf, tmp_path
) -> None:
    model = LocalModel(open_engine(smollm, n_ctx=2048, n_threads=2))
    store = ConversationStore(tmp_path / "c.db")
    service = ChatService(model, store, None, cache_dir=tmp_path / "cache")
    document = read_document(long_pdf)
    with pytest.raises(NoMatchingPassage):
        service.send("receita de bacalhau com natas", SAMPLING, [document])
    assert service.conversation_id is None  # nothing saved, nothing evaluated
    assert service.messages == []

    ask(service, "Qual é o prazo para reclamar do indeferimento?", [document])
    # A follow-up about the answer itself matches no passage: sent as it is, no excerpts.
    excerpts, _ = ask(service, "obrigado, pode repetir?")
    assert excerpts is None
    assert service.messages[-2].content == "obrigado, pode repetir?"
    store.close()
