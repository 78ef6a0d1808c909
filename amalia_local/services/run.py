"""``amalia run``: one question in, one streamed answer out, for scripts and pipes.

Each run is a conversation in the chat's database (unless ``--no-save``), so
``--continue`` and ``--conversation ID`` pick it up later, here or in the chat; the
engine's saved KV states mean a continued conversation is not evaluated again. The
model is a local file or an OpenAI-compatible endpoint; after opening, both are the
same :class:`~amalia_local.chat_model.ChatModel` and the rest of the command is shared.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

from amalia_local.engine.options import SamplingOptions
from amalia_local.errors import AmaliaError

if TYPE_CHECKING:
    # Imported where used: ``run --endpoint`` is judged by its first token counted from
    # the process's start, so it loads neither the database nor the local engine's
    # helpers before that token (the conversation is saved from it on).
    from pathlib import Path

    from amalia_local.chat_model import ChatModel
    from amalia_local.conversations import Conversation, ConversationStore
    from amalia_local.documents import Document
    from amalia_local.engine.stats import ReplyStats
    from amalia_local.fit import LoadOptions
    from amalia_local.remote.spec import EndpointSpec
    from amalia_local.runtime import Runtime
    from amalia_local.services.reading import ReadingLine

# How often the waiting main thread wakes up to notice Ctrl-C.
_INTERRUPT_POLL_S = 0.05


@dataclass(frozen=True)
class RunRequest:
    model: str | None
    prompt: str
    endpoint: EndpointSpec | None = None
    system: str | None = None
    system_given: bool = False  # --system: replaces a continued conversation's own
    load: LoadOptions | None = None  # None: all picked for this machine (and --endpoint)
    sampling: SamplingOptions = field(default_factory=SamplingOptions)
    json_output: bool = False
    force: bool = False  # load even when the model will not fit in available RAM
    continue_last: bool = False  # --continue: the most recently updated conversation
    conversation: int | None = None  # --conversation ID
    save: bool = True  # --no-save turns it off
    state_cache_gb: float = 4.0
    documents: tuple[Document, ...] = ()  # --file and piped standard input, already read
    reading: str = "auto"  # the documents: whole if they fit, else passages; or --whole/--passages


@contextlib.contextmanager
def open_model(request: RunRequest, runtime: Runtime, err: TextIO | None) -> Iterator[ChatModel]:
    """The chosen model (the one place that tells a server from a file here); its reduced
    settings are said on ``err`` in one line each."""
    if request.endpoint is not None:
        remote = request.endpoint.open()
        try:
            yield remote
        finally:
            remote.close()
        return
    from amalia_local.engine.local import LocalModel
    from amalia_local.fit import LoadOptions
    from amalia_local.services.loading import notice_lines, open_checked, state_budget_bytes

    assert request.model is not None
    with (
        runtime.open_llama_log() as log,
        open_checked(
            request.model,
            request.load or LoadOptions(),
            log,
            force=request.force,
            cache_dir=runtime.locations.cache_dir,
            state_dir=runtime.locations.kv_state_dir,
            state_budget=state_budget_bytes(request.state_cache_gb),
        ) as engine,
    ):
        for line in notice_lines(engine.options, runtime):
            if err is not None:
                err.write(f"amalia: {line}\n")
        yield LocalModel(engine)


def run(request: RunRequest, runtime: Runtime, out: TextIO, err: TextIO | None = None) -> int:
    """``err``: where notices and, on a terminal, the reading progress go."""
    database = _Database(runtime.locations.data_dir)
    try:
        # Before loading the model: a wrong id should not cost a minute of loading. A new
        # conversation opens the database only once its answer has started.
        continued = request.continue_last or request.conversation is not None
        conversation = _conversation(request, database.open()) if continued else None
        with open_model(request, runtime, err) as model:
            reading = None
            if err is not None and not request.json_output and _is_terminal(err):
                from amalia_local.services.reading import ReadingLine

                reading = ReadingLine(err, runtime.translator)
            _answer(request, model, database, conversation, out, reading, runtime, err)
    finally:
        database.close()
    return 0


class _Database:
    """The conversations' database, opened (and its module imported) on first use."""

    def __init__(self, data_dir: Path) -> None:
        self._data_dir = data_dir
        self.store: ConversationStore | None = None

    def open(self) -> ConversationStore:
        if self.store is None:
            from amalia_local.conversations import ConversationStore

            self.store = ConversationStore.in_dir(self._data_dir)
        return self.store

    def close(self) -> None:
        if self.store is not None:
            self.store.close()


def _conversation(request: RunRequest, store: ConversationStore) -> Conversation | None:
    if request.conversation is not None:
        found = store.get(request.conversation)
        if found is None:
            raise AmaliaError("error.no_conversation", id=request.conversation)
        return found
    if request.continue_last:
        recent = store.list()
        if not recent:
            raise AmaliaError("error.no_conversations")
        return store.get(recent[0].id)
    return None


def _answer(
    request: RunRequest,
    model: ChatModel,
    database: _Database,
    conversation: Conversation | None,
    out: TextIO,
    reading: ReadingLine | None = None,
    runtime: Runtime | None = None,
    err: TextIO | None = None,
) -> None:
    system = request.system
    if system is None:
        system = model.default_system_prompt()
    conversation_id: int | None = conversation.id if conversation else None
    stream = not request.json_output
    documents = request.documents
    write = _writer(out, reading) if stream else _ignore
    if request.save:
        from amalia_local.services.chat import ChatService

        service = ChatService(
            model,
            database.open,
            system,
            conversation,
            override_system=request.system_given,
            cache_dir=runtime.locations.cache_dir if runtime is not None else None,
        )
        session = service.session
        answer = service.send(
            request.prompt,
            request.sampling,
            documents,
            answer_first=conversation is None,
            reading=request.reading,
            translator=runtime.translator if runtime is not None else None,
            err=err,
        )
        excerpts = service.excerpts
        _say_excerpts(excerpts, runtime, err)
        answer.ui_interval = 0.0  # a pipe wants every chunk as it comes
        reply, work = answer.reply, lambda: answer.run(write)
    else:
        from amalia_local.documents import compose
        from amalia_local.services.chat import conversation_system_prompt, model_messages

        system = conversation_system_prompt(conversation, system, request.system_given)
        session = model.new_session(system, model_messages(conversation))
        documents, excerpts = _passages_if_needed(request, session, runtime, err)
        message = compose(request.prompt, documents)
        if documents:
            from amalia_local.services.documents import ensure_room

            ensure_room(session, message, documents, request.sampling)
        reply = session.send(message, request.sampling)
        work = lambda: _stream_reply(reply, write)  # noqa: E731
    tick = (lambda: reading.show(reply.stats)) if reading is not None else None
    try:
        stats = _run_interruptible(work, reply.cancel, tick)
    finally:
        if reading is not None:
            reading.clear()
    if request.save:
        conversation_id = service.conversation_id
    if excerpts is not None and err is not None and not request.json_output:
        assert runtime is not None
        out.write("\n")
        out.flush()
        err.write("".join(f"{line}\n" for line in excerpts.sources(runtime.translator)))
        err.flush()
    if request.json_output:
        payload: dict[str, object] = {
            "model": model.name,
            "conversation_id": conversation_id,
            "text": reply.text,
            "stats": {**stats.as_dict(), "reduced": model.reductions()},
            "settings": model.settings(),
        }
        if excerpts is not None:
            payload["excerpts"] = {
                "given": len(excerpts.given),
                "total": excerpts.total,
                "tokens": excerpts.tokens,
                "passages": excerpts.as_json(),
            }
        documents = request.documents
        if documents:
            payload["documents"] = [
                {
                    "name": d.name,
                    "kind": d.kind,
                    "pages": d.pages,
                    "tokens": session.count_tokens(d.text),
                    "sha256": d.sha256,
                }
                for d in documents
            ]
        out.write(json.dumps(payload, ensure_ascii=False) + "\n")
    elif excerpts is None:
        out.write("\n")
    out.flush()


def _passages_if_needed(request: RunRequest, session, runtime: Runtime | None, err):
    """The documents to give the model, and the excerpts when they are passages: with
    ``--passages``, or when the documents do not fit (unless ``--whole``, whose refusal
    then comes from ``ensure_room`` as before)."""
    documents = request.documents
    if not documents or request.reading == "whole" or runtime is None:
        return documents, None
    from amalia_local.services.passages import choose, fits_whole

    if request.reading == "auto" and fits_whole(
        session, request.prompt, documents, request.sampling
    ):
        return documents, None
    excerpts = choose(
        session,
        request.prompt,
        documents,
        request.sampling,
        runtime.locations.cache_dir,
        runtime.translator,
        err,
    )
    _say_excerpts(excerpts, runtime, err)
    return excerpts.documents, excerpts


def _say_excerpts(excerpts, runtime: Runtime | None, err: TextIO | None) -> None:
    """The one line that says the documents are read in passages, before the answer."""
    if excerpts is not None and err is not None and runtime is not None:
        err.write(f"{excerpts.summary(runtime.translator)}\n")
        err.flush()


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _run_interruptible(work, cancel, tick=None) -> ReplyStats:
    """Run ``work`` in a thread so Ctrl-C reaches us while llama.cpp is busy in C.

    Python delivers KeyboardInterrupt to the main thread only between bytecodes, which a
    long prompt evaluation would postpone by seconds. Here the main thread only waits:
    Ctrl-C cancels the answer (the engine aborts even a prompt evaluation), the worker
    ends and saves what there is, and the interrupt goes on to the CLI. ``tick`` is
    called at each wake-up (the reading progress).
    """
    result: list[ReplyStats] = []
    errors: list[BaseException] = []
    # Waited on instead of Thread.join: on Python 3.11 a Ctrl-C that interrupts join()
    # can mark a still-running thread as finished (the bpo-45274 fix), and the engine
    # would then be closed under its feet.
    done = threading.Event()

    def target() -> None:
        try:
            result.append(work())
        except BaseException as exc:
            errors.append(exc)
        finally:
            done.set()

    threading.Thread(target=target, name="amalia-run", daemon=True).start()
    try:
        while not done.wait(_INTERRUPT_POLL_S):
            if tick is not None:
                tick()
    except KeyboardInterrupt:
        cancel()
        done.wait()
        raise
    if errors:
        raise errors[0]
    return result[0]


def _writer(out: TextIO, reading: ReadingLine | None = None):
    def write(text: str) -> None:
        if reading is not None:
            reading.clear()  # the answer starts where the progress line was
        out.write(text)
        out.flush()

    return write


def _ignore(_text: str) -> None:
    return None


def _stream_reply(reply, write) -> ReplyStats:
    for chunk in reply:
        write(chunk)
    return reply.stats
