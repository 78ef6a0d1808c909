"""A conversation held with the engine and saved as it happens: what the chat UI drives.

The UI only turns keys into calls here and paints what comes back. Keeping the
engine-plus-store choreography in one place lets tests (and the SIGKILL test) exercise
exactly what the app does, and keeps the widgets free of business logic.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from amalia_local.documents import compose
from amalia_local.documents.framing import EXCERPT
from amalia_local.engine.chat import ASSISTANT, USER
from amalia_local.engine.template import Message

if TYPE_CHECKING:
    from pathlib import Path
    from typing import TextIO

    # The database and the documents' helpers are imported where used: ``run`` reaches
    # its first token before it opens (or imports) anything to save the answer in.
    from amalia_local.chat_model import ChatModel
    from amalia_local.conversations import (
        Conversation,
        ConversationStore,
        StoredAttachment,
        StoredMessage,
        StoredSource,
    )
    from amalia_local.documents import Document
    from amalia_local.engine import Reply, ReplyStats, SamplingOptions
    from amalia_local.i18n import Translator
    from amalia_local.services.passages import Excerpts, OnIndex

# Handing text to the UI five times a second still reads as streaming; the UI may ask
# for less (tui/paint_budget.py) when painting costs the model too much CPU.
UI_INTERVAL_S = 0.2
# How much streamed text a kill -9 may lose.
SAVE_INTERVAL_S = 0.5


@dataclass
class AnswerStream:
    """One answer being generated and saved; iterate it with :meth:`run` in a worker."""

    reply: Reply
    store: ConversationStore | None
    message_id: int | None
    save_interval: float = SAVE_INTERVAL_S
    # Read at every token, so the UI thread may change it while the answer streams.
    ui_interval: float = UI_INTERVAL_S
    # Saves the question and an empty answer, returning where the answer goes: given when
    # nothing is saved yet (``run``), and called once the first text is out.
    begin: Callable[[], tuple[ConversationStore, int]] | None = None

    def run(self, on_text: Callable[[str], object]) -> ReplyStats:
        """Stream the answer, passing new text to ``on_text`` at most every ``ui_interval`` s.

        The partial text is written to the database every ``save_interval`` seconds and
        the final text once more at the end, whether it finished or was stopped. With
        ``begin``, the rows are made just after the first text went out; an answer that
        failed before any text saves nothing (the error says it all).
        """
        pending: list[str] = []
        parts: list[str] = []
        last_ui = last_save = time.monotonic()
        failed = True
        try:
            for chunk in self.reply:
                pending.append(chunk)
                parts.append(chunk)
                now = time.monotonic()
                if now - last_ui >= self.ui_interval:
                    on_text("".join(pending))
                    pending.clear()
                    last_ui = now
                if self.message_id is None and not pending:  # the first text is out
                    self._begin()
                    last_save = time.monotonic()
                if now - last_save >= self.save_interval:
                    self._save("".join(parts))
                    last_save = now
            failed = False
        finally:
            if pending:
                on_text("".join(pending))
            if self.message_id is None and not failed:
                self._begin()
            if self.message_id is not None:
                self._save(
                    self.reply.text, complete=True, stop_reason=self.reply.stats.stop_reason.value
                )
        return self.reply.stats

    def cancel(self) -> None:
        """Thread-safe; generation stops within one token and the text so far is kept."""
        self.reply.cancel()

    def _begin(self) -> None:
        assert self.begin is not None
        self.store, self.message_id = self.begin()

    def _save(self, text: str, *, complete: bool = False, stop_reason: str | None = None) -> None:
        assert self.store is not None and self.message_id is not None
        self.store.update_message(self.message_id, text, complete=complete, stop_reason=stop_reason)


@dataclass(frozen=True)
class ReadQuestion:
    """A question ready to ask: what :meth:`ChatService.read` found, nothing saved yet."""

    text: str  # as typed
    message: str  # as the model reads it: the documents or passages framed in
    documents: tuple[Document | StoredAttachment, ...]  # whole, or the passages
    excerpts: Excerpts | None
    searched: tuple[Document, ...]  # what the conversation reads in passages after it
    # The conversation it was read for (id, messages, documents searched): ask() refuses
    # it if that changed meanwhile (its passages were chosen against that history).
    basis: tuple[object, ...]


class ChatService:
    """The current conversation: model session in memory, its copy in the database.

    A conversation row is created on the first question, so opening the app and
    closing it again leaves no empty conversations behind.
    """

    def __init__(
        self,
        model: ChatModel,
        store: ConversationStore | Callable[[], ConversationStore],
        system_prompt: str | None,
        conversation: Conversation | None = None,
        *,
        override_system: bool = False,
        cache_dir: Path | None = None,
    ) -> None:
        """``system_prompt`` is for a new conversation; a saved one keeps its own unless
        ``override_system`` (``run --system``), which then becomes its own. ``store`` may
        be a function that opens it, called when something is first saved.

        ``cache_dir``: where passage indexes are kept; with it, documents that do not fit
        are read in passages and follow-ups search them again (services.passages)."""
        self.model = model
        self._store = None if callable(store) else store
        self._open_store = store if callable(store) else None
        self.conversation_id: int | None = conversation.id if conversation else None
        system_prompt = conversation_system_prompt(conversation, system_prompt, override_system)
        if override_system and conversation is not None:
            self.store.set_system_prompt(conversation.id, system_prompt)
        # Stored ids of the messages in session order, for regenerate and edit.
        self._ids: list[int] = [m.id for m in model_history(conversation)]
        history = model_messages(conversation)
        # Questions asked with documents, by stored id: the typed text and the documents.
        self._attached: dict[int, tuple[str, tuple[StoredAttachment, ...]]] = {
            m.id: (m.content, m.attachments) for m in model_history(conversation) if m.attachments
        }
        self.session = model.new_session(system_prompt, history)
        self.taken_back_documents: tuple[StoredAttachment, ...] = ()
        self.cache_dir = cache_dir
        # The documents this conversation reads in passages (only their hash and name are
        # needed: the index is in the cache), and the passages of the last question.
        self.searched: tuple[Document, ...] = _searched(conversation)
        self.excerpts: Excerpts | None = None

    @property
    def store(self) -> ConversationStore:
        if self._store is None:
            assert self._open_store is not None
            self._store = self._open_store()
        return self._store

    @property
    def messages(self) -> list[Message]:
        return self.session.messages

    def send(
        self,
        text: str,
        sampling: SamplingOptions,
        documents: Sequence[Document | StoredAttachment] = (),
        *,
        answer_first: bool = False,
        reading: str = "auto",
        translator: Translator | None = None,
        err: TextIO | None = None,
    ) -> AnswerStream:
        """Ask ``text`` about ``documents`` (if any): :meth:`read` then :meth:`ask`.

        ``answer_first``: save the question once the answer's first text is out, not
        before asking (``run``: a script waits for the answer, not for the database).
        """
        question = self.read(
            text, sampling, documents, reading=reading, translator=translator, err=err
        )
        return self.ask(question, sampling, answer_first=answer_first)

    def read(
        self,
        text: str,
        sampling: SamplingOptions,
        documents: Sequence[Document | StoredAttachment] = (),
        *,
        reading: str = "auto",
        translator: Translator | None = None,
        err: TextIO | None = None,
        on_index: OnIndex | None = None,
    ) -> ReadQuestion:
        """How ``text`` will be asked: its documents whole, or the passages chosen for it.

        Changes nothing of the conversation, here or in the database (documents not
        indexed yet are, in the cache), so the chat runs it in a worker (a search of a
        big folder takes seconds) and may drop what it returns; :meth:`ask` it before
        anything else changes the conversation. Refused when the documents cannot fit
        the context (:class:`DocumentsTooLong`), or, read in passages, when none matches
        (``passages.NoMatchingPassage``). ``reading``: auto, passages or whole
        (``run --passages/--whole``). ``err``: indexing progress. ``on_index(done, total)``:
        told before each document's index is opened; an exception it raises stops the
        search there (the chat's Esc).
        """
        excerpts: Excerpts | None = None
        searched = self.searched
        if self.cache_dir is not None and (documents or searched):
            from amalia_local.services.passages import Mode, read_for_question

            found = read_for_question(
                self.session,
                text,
                [_document(d) for d in documents],
                sampling,
                self.cache_dir,
                mode=Mode(reading),
                searched=searched,
                in_context=self._in_context(),
                translator=translator,
                err=err,
                on_index=on_index,
            )
            documents, excerpts, searched = found.documents, found.excerpts, found.searched
        message = compose(text, documents)
        if documents:
            from amalia_local.services.documents import ensure_room

            ensure_room(self.session, message, documents, sampling)
        return ReadQuestion(text, message, tuple(documents), excerpts, searched, self._basis())

    def ask(
        self, question: ReadQuestion, sampling: SamplingOptions, *, answer_first: bool = False
    ) -> AnswerStream:
        """Save ``question`` (or, ``answer_first``, once its answer's first text is out)
        and start its answer; the passages it was given are in :attr:`excerpts`."""
        if question.basis != self._basis():
            raise ValueError("the conversation changed since the question was read")
        self.excerpts = question.excerpts
        new_searched = question.searched[len(self.searched) :]
        self.searched = question.searched
        text, documents = question.text, question.documents
        sources = self.excerpts.stored() if self.excerpts is not None else ()
        if not answer_first:
            self._save_question(text, documents, sources, new_searched)
            reply = self.session.send(question.message, sampling)
            return self._stream(reply)
        reply = self.session.send(question.message, sampling)

        def begin() -> tuple[ConversationStore, int]:
            self._save_question(text, documents, sources, new_searched)
            return self.store, self._answer_row()

        return AnswerStream(reply, None, None, begin=begin)

    def _basis(self) -> tuple[object, ...]:
        return (self.conversation_id, tuple(self._ids), len(self.messages), self.searched)

    def _in_context(self) -> set[tuple[str, str]]:
        """(name, text) of the passages the model still sees: given with questions that
        the context window has not dropped."""
        held: set[tuple[str, str]] = set()
        for message_id in self._ids[self.session.window_start :]:
            for a in self._attached.get(message_id, ("", ()))[1]:
                if a.kind == EXCERPT:
                    held.add((a.name, a.text))
        return held

    def _save_question(
        self,
        text: str,
        documents: Sequence[Document | StoredAttachment],
        sources: Sequence[StoredSource] = (),
        searched: Sequence[Document] = (),
    ) -> None:
        from amalia_local.conversations import SearchedDocument, title_from_question
        from amalia_local.services.documents import stored

        if self.conversation_id is None:
            self.conversation_id = self.store.create(
                title_from_question(text), self.model.name, self.session.system_prompt
            )
        if searched:
            self.store.add_searched(
                self.conversation_id,
                [
                    SearchedDocument(d.name, d.sha256, d.kind, d.pages, d.page_range)
                    for d in searched
                ],
            )
        attachments = stored(documents)
        message_id = self.store.add_message(
            self.conversation_id, USER, text, attachments=attachments, sources=sources
        )
        self._ids.append(message_id)
        if attachments:
            self._attached[message_id] = (text, attachments)

    def count_tokens(self, text: str) -> int | None:
        """A document's size in tokens for the model (None for a remote one)."""
        return self.session.count_tokens(text)

    def regenerate(self, sampling: SamplingOptions) -> AnswerStream:
        """Answer the last question again; the old answer is replaced, here and on disk."""
        if self.conversation_id is None:
            raise ValueError("nothing to regenerate")
        if self.messages and self.messages[-1].role == ASSISTANT:
            self.store.delete_messages_from(self.conversation_id, self._ids.pop())
        reply = self.session.regenerate(sampling)
        return self._stream(reply)

    def take_back_last_question(self) -> str | None:
        """Remove the last question and its answer so it can be edited and sent again.

        Its documents, if any, are left in ``taken_back_documents`` to attach again."""
        last_user = max((i for i, m in enumerate(self.messages) if m.role == USER), default=None)
        if last_user is None or self.conversation_id is None:
            return None
        text, self.taken_back_documents = self._attached.get(
            self._ids[last_user], (self.messages[last_user].content, ())
        )
        self.store.delete_messages_from(self.conversation_id, self._ids[last_user])
        del self.session.messages[last_user:]
        del self._ids[last_user:]
        self.session.window_start = min(self.session.window_start, len(self.messages))
        return text

    def last_answer(self) -> str | None:
        for message in reversed(self.messages):
            if message.role == ASSISTANT:
                return message.content
        return None

    def _stream(self, reply: Reply) -> AnswerStream:
        return AnswerStream(reply, self.store, self._answer_row())

    def _answer_row(self) -> int:
        """An empty answer in the database, filled as the answer streams."""
        assert self.conversation_id is not None
        message_id = self.store.add_message(self.conversation_id, ASSISTANT, "", complete=False)
        self._ids.append(message_id)
        return message_id


def _searched(conversation: Conversation | None) -> tuple[Document, ...]:
    """The conversation's documents read in passages, as documents without text: their
    hash, pages and name are what finds their index in the cache."""
    if conversation is None:
        return ()
    from amalia_local.documents import Document

    return tuple(
        Document(d.name, "", d.sha256, d.kind, d.pages, d.page_range) for d in conversation.searched
    )


def _document(document: Document | StoredAttachment) -> Document:
    from amalia_local.documents import Document

    if isinstance(document, Document):
        return document
    return Document(document.name, document.text, document.sha256, document.kind, document.pages)


def conversation_system_prompt(
    conversation: Conversation | None, chosen: str | None, override: bool = False
) -> str | None:
    """The system prompt to continue ``conversation`` with.

    Its own, so the rendered prompt is the one its saved KV state was made from (another
    one would mean evaluating the whole history again); ``chosen`` for a new conversation,
    one saved before system prompts were recorded, or when ``override`` says so.
    """
    if override or conversation is None or conversation.system_prompt is None:
        return chosen
    return conversation.system_prompt or None


def model_history(conversation: Conversation | None) -> list[StoredMessage]:
    """The saved messages the model is shown when a conversation continues."""
    if conversation is None:
        return []
    # An answer killed before its first token has nothing to show the model.
    return [m for m in conversation.messages if m.role != ASSISTANT or m.content]


def model_messages(conversation: Conversation | None) -> list[Message]:
    """The saved conversation as the model reads it: documents framed into questions
    exactly as when they were asked, so the prompt (and its saved state) is the same."""
    return [Message(m.role, compose(m.content, m.attachments)) for m in model_history(conversation)]


def visible_history(conversation: Conversation) -> list[StoredMessage]:
    """What the message list shows for a saved conversation (same rule as the model)."""
    return [m for m in conversation.messages if m.role == USER or m.content]
