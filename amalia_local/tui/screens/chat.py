"""The chat: sidebar of saved conversations, the message list, the prompt, the status.

Generation runs in a thread worker (``AnswerStream.run``); text comes back as
messages at most five times a second (less when painting would cost the model more than
its budget, see paint_budget.py) and is appended to the last answer only, which renders
just its last Markdown block again.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from textual import on, work
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Footer, Static

from amalia_local.conversations import to_markdown
from amalia_local.conversations.store import USER
from amalia_local.documents import Document
from amalia_local.engine import ReplyStats, SamplingOptions, StopReason
from amalia_local.errors import AmaliaError
from amalia_local.formatting import Count
from amalia_local.services.chat import AnswerStream, ChatService, ReadQuestion, visible_history
from amalia_local.services.passages import OnIndex, source_lines
from amalia_local.tui.keys import translate_bindings
from amalia_local.tui.paint_budget import PaintBudget
from amalia_local.tui.screens.chat_attachments import READING_POLL_S, ChatAttachments
from amalia_local.tui.screens.dialogs import ConfirmScreen, TextPromptScreen
from amalia_local.tui.widgets.attachments import AttachmentBar
from amalia_local.tui.widgets.messages import AnswerMessage, MessageList
from amalia_local.tui.widgets.prompt import PromptInput
from amalia_local.tui.widgets.sidebar import Sidebar
from amalia_local.tui.widgets.status import StatusBar


@dataclass
class AnswerText(Message):
    """New text of the answer being streamed (sent from the generation thread)."""

    text: str


@dataclass
class AnswerDone(Message):
    stats: ReplyStats | None
    error: BaseException | None = None


@dataclass
class Asking:
    """A question sent: what is needed to read it, and whether Esc dropped it."""

    service: ChatService
    text: str
    documents: list[Document]
    sampling: SamplingOptions
    dropped: bool = False


@dataclass
class QuestionRead(Message):
    """A question's documents were read or searched (sent from the reading thread)."""

    asking: Asking
    question: ReadQuestion | None
    error: BaseException | None


@dataclass
class Indexing(Message):
    """How far the search has got through the documents (sent from the reading thread)."""

    asking: Asking
    done: int
    total: int


class QuestionDropped(Exception):
    """Raised in the reading thread at the next document once Esc dropped the question."""


def _read_question(
    asking: Asking, on_index: OnIndex | None = None
) -> tuple[ReadQuestion | None, BaseException | None]:
    """What ChatService.read gives, or the error that refused the question."""
    try:
        question = asking.service.read(
            asking.text, asking.sampling, asking.documents, on_index=on_index
        )
    except AmaliaError as exc:  # DocumentsTooLong, NoMatchingPassage: nothing saved
        return None, exc
    return question, None


class ChatScreen(ChatAttachments):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "stop", "key.stop"),
        Binding("ctrl+n", "new_conversation", "key.new"),
        Binding("ctrl+r", "regenerate", "key.regenerate", show=False),
        Binding("ctrl+l", "edit_last", "key.edit", show=False),
        Binding("f3", "copy_answer", "key.copy", show=False),
        Binding("ctrl+b", "toggle_sidebar", "key.sidebar", show=False),
        Binding("ctrl+f", "search", "key.search", show=False),
        Binding("f2", "rename", "key.rename", show=False),
        Binding("f8", "delete", "key.delete", show=False),
        Binding("ctrl+s", "export", "key.export", show=False),
        Binding("ctrl+o", "settings", "key.settings"),
        Binding("ctrl+t", "attach", "key.attach", show=False),
    ]

    def __init__(self) -> None:
        super().__init__(id="chat")
        self.service: ChatService | None = None
        self.conversation_id: int | None = None
        self.answer: AnswerStream | None = None
        self._view: AnswerMessage | None = None
        self._budget: PaintBudget | None = None
        self._last_stats: ReplyStats | None = None
        self._sources: list[str] = []  # shown under the answer being streamed
        self._asking: Asking | None = None  # a question whose documents are searched

    # --- layout -------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        t = self.app.t
        with Horizontal(id="main"):
            yield Sidebar(t("sidebar.search"), t("sidebar.title"), id="sidebar")
            with Vertical(id="conversation"):
                yield MessageList(id="messages")
                yield Static("", id="notice", markup=False)
                yield AttachmentBar(id="attachments")
                yield PromptInput(t("chat.placeholder"), id="prompt")
        yield StatusBar(id="status", markup=False)
        yield Footer()

    async def on_mount(self) -> None:
        translate_bindings(self, self.app.t)
        self.query_one("#conversation").border_title = self.app.t("chat.new_title")
        self.query_one(PromptInput).focus()
        self.query_one(PromptInput).paste_files = self.attach_pasted
        await self.refresh_sidebar()
        self.refresh_status()

    # --- what the app tells us --------------------------------------------------------
    async def relabel(self) -> None:
        """The language changed: compose again in it, showing the same conversation."""
        await self.recompose()
        await self.on_mount()
        if self.conversation_id is not None:
            await self.open_conversation(self.conversation_id)

    def model_changed(self) -> None:
        """A model was (re)opened: the next question starts a fresh session with it."""
        self.service = None
        self.refresh_status()

    def refresh_status(self) -> None:
        self.query_one(StatusBar).show(self.app.status_parts(self._last_stats))

    async def refresh_sidebar(self) -> None:
        sidebar = self.query_one(Sidebar)
        summaries = self.app.store.list(sidebar.query_text)
        sidebar.show(summaries, self.conversation_id)

    @property
    def generating(self) -> bool:
        """An answer streams, or the documents of a question are being searched."""
        return self.answer is not None or self._asking is not None

    # --- sending ------------------------------------------------------------------------
    @on(PromptInput.Submitted)
    async def _submitted(self, event: PromptInput.Submitted) -> None:
        text = event.text.strip()
        if not text:
            if self.attachment_bar.attached:
                self.notify(self.app.t("attach.need_question"), severity="warning")
            return
        if not self._can_talk():
            return
        self.query_one(PromptInput).clear()
        service = self._service()
        documents = [a.document for a in self.attachment_bar.attached]
        sampling = self.app.sampling()
        asking = Asking(service, text, documents, sampling)
        if not documents and not service.searched:
            # Nothing to search or measure: read at once, as fast as a keystroke.
            await self._read(asking, *_read_question(asking))
            return
        # Documents (or a follow-up on the ones read in passages): finding the passages
        # of a big folder takes seconds, so it runs in a worker and the chat keeps
        # answering keys; sending again meanwhile is refused, Esc drops the question.
        self._asking = asking
        self.query_one(StatusBar).show([self.app.model_label(), self.app.t("status.searching")])
        self._read_in_worker(asking)

    @work(thread=True, group="generation", exit_on_error=False)
    def _read_in_worker(self, asking: Asking) -> None:
        app = self.app
        shown = 0.0

        def on_index(done: int, total: int) -> None:
            nonlocal shown
            if asking.dropped:  # Esc or quitting: stop before the next document
                raise QuestionDropped
            if done and time.monotonic() - shown >= READING_POLL_S:
                shown = time.monotonic()
                self.post_message(Indexing(asking, done, total))

        # The search uses the model's tokenizer: quitting waits for it, as for an answer.
        app.generation_started()
        try:
            question, error = _read_question(asking, on_index)
        except QuestionDropped:
            question, error = None, None
        except Exception as exc:  # said in the chat like any error, never left hanging
            question, error = None, exc
        finally:
            app.generation_finished()
        self.post_message(QuestionRead(asking, question, error))

    @on(Indexing)
    def _indexing(self, message: Indexing) -> None:
        if message.asking is not self._asking or message.asking.dropped:
            return
        app = self.app
        searching = app.t(
            "status.searching_count", done=Count(message.done), total=Count(message.total)
        )
        self.query_one(StatusBar).show([app.model_label(), searching])

    @on(QuestionRead)
    async def _question_read(self, message: QuestionRead) -> None:
        asking = message.asking
        if asking is not self._asking:
            return
        self._asking = None
        if asking.dropped:  # Esc while searching: the question went back already
            self.refresh_status()
            return
        await self._read(asking, message.question, message.error)

    async def _read(
        self, asking: Asking, question: ReadQuestion | None, error: BaseException | None
    ) -> None:
        """Ask the question read (saved from here, on the UI thread), or say why not."""
        service, text, documents = asking.service, asking.text, asking.documents
        if question is None:  # refused before anything was saved
            self._give_back(text)
            self.refresh_status()
            if error is not None:
                self._error(error)
            return
        try:
            answer = service.ask(question, asking.sampling)
        except ValueError:  # the conversation changed meanwhile: nothing was saved
            self._give_back(text)
            self.refresh_status()
            return
        except AmaliaError as exc:
            service.take_back_last_question()
            self._give_back(text)
            self.refresh_status()
            self._error(exc)
            return
        if self.conversation_id != service.conversation_id:
            self.conversation_id = service.conversation_id
            self._show_title()
            await self.refresh_sidebar()
        await self.attachment_bar.take(documents)  # not one attached while searching
        shown = self.question_with_attachments(text, documents)
        excerpts = service.excerpts
        if excerpts is not None:
            shown += "\n" + excerpts.summary(self.app.translator)
        self._sources = source_lines(excerpts.stored(), self.app.translator) if excerpts else []
        await self.query_one(MessageList).add_user(shown, self.app.t("chat.you"))
        await self._start(answer)

    def _give_back(self, text: str) -> None:
        """A question not sent goes back in the box, before whatever was typed since."""
        prompt = self.query_one(PromptInput)
        typed = prompt.text
        prompt.text = f"{text}\n{typed}" if typed.strip() else text
        prompt.move_cursor(prompt.document.end)

    def _can_talk(self) -> bool:
        t = self.app.t
        if self._asking is not None:
            self.notify(t("chat.busy_searching"), severity="warning")
            return False
        if self.generating:
            self.notify(t("chat.busy"), severity="warning")
            return False
        if self.app.chat_model() is None:
            self.notify(t("chat.model_loading"), severity="warning")
            return False
        return True

    def _service(self) -> ChatService:
        if self.service is None:
            app = self.app
            conversation = (
                app.store.get(self.conversation_id) if self.conversation_id is not None else None
            )
            model = app.chat_model()
            assert model is not None  # _can_talk() came first
            self.service = ChatService(
                model,
                app.store,
                app.system_prompt(),
                conversation,
                cache_dir=app.runtime.locations.cache_dir,
            )
        return self.service

    async def _start(self, answer: AnswerStream) -> None:
        view = await self.query_one(MessageList).add_answer(
            "",
            self.app.model_label(),
            streaming=True,
        )
        self.answer = answer
        self._view = view
        self._budget = PaintBudget()
        # A blinking cursor repaints twice a second, CPU the model would rather have.
        self.query_one(PromptInput).cursor_blink = False
        self.query_one("#notice", Static).remove_class("-visible")
        self.query_one(StatusBar).show([self.app.model_label(), self.app.t("status.generating")])
        self.app.generation_started()
        self.start_reading_progress()
        self._generate(answer)

    @work(thread=True, group="generation", exit_on_error=False)
    def _generate(self, answer: AnswerStream) -> None:
        try:
            stats = answer.run(lambda text: self.post_message(AnswerText(text)))
        except BaseException as exc:
            self.post_message(AnswerDone(None, exc))
            return
        finally:
            self.app.generation_finished()
        self.post_message(AnswerDone(stats))

    @on(AnswerText)
    def _answer_text(self, message: AnswerText) -> None:
        if self._view is not None:
            self._view.append(message.text)
        if self.answer is not None and self._budget is not None:
            # CPU of this thread since the last hand-off: the painting it caused included.
            self.answer.ui_interval = self._budget.next_interval(
                self.answer.ui_interval, time.thread_time(), time.monotonic()
            )

    @on(AnswerDone)
    async def _answer_done(self, message: AnswerDone) -> None:
        t = self.app.t
        view, self._view = self._view, None
        self.stop_reading_progress()
        if view is not None:
            view.finish()
        self.query_one(PromptInput).cursor_blink = True
        self.answer = None
        if self._sources:
            await self.query_one(MessageList).add_sources("\n".join(self._sources))
            self._sources = []
        stats = message.stats
        if message.error is not None:
            self._error(message.error)
        elif stats is not None:
            self._last_stats = stats
            if view is not None and stats.stop_reason is StopReason.CANCELLED:
                view.border_subtitle = t("chat.stopped")
            elif view is not None and stats.stop_reason is StopReason.LENGTH:
                view.border_subtitle = t("chat.truncated")
            if stats.dropped_messages:
                notice = t("chat.dropped", count=stats.dropped_messages)
                self.query_one("#notice", Static).update(notice)
                self.query_one("#notice", Static).add_class("-visible")
        self.refresh_status()
        await self.refresh_sidebar()

    def _error(self, error: BaseException) -> None:
        self.notify(self.app.describe_error(error), severity="error", timeout=8)

    # --- actions ------------------------------------------------------------------------
    def action_stop(self) -> None:
        asking = self._asking
        if asking is not None and not asking.dropped:
            # The search cannot be interrupted, but its result will be dropped: the
            # question comes back now, and nothing of it is saved.
            asking.dropped = True
            self._give_back(asking.text)
            self.notify(self.app.t("chat.search_stopped"))
        elif self.answer is not None:
            self.answer.cancel()

    def stop_for_quit(self) -> None:
        """The app quits: a question still searched is dropped (never saved, never
        asked), an answer streaming stops."""
        if self._asking is not None:
            self._asking.dropped = True
        if self.answer is not None:
            self.answer.cancel()

    async def action_new_conversation(self) -> None:
        if self.generating:
            self.notify(self.app.t("chat.busy"), severity="warning")
            return
        self.service = None
        self.conversation_id = None
        self._last_stats = None
        await self.query_one(MessageList).clear_messages()
        self.query_one("#notice", Static).remove_class("-visible")
        self._show_title()
        self.refresh_status()
        await self.refresh_sidebar()
        self.query_one(PromptInput).focus()

    async def action_regenerate(self) -> None:
        if not self._can_talk() or self.conversation_id is None:
            return
        service = self._service()
        if not any(m.role == USER for m in service.messages):
            return
        messages = self.query_one(MessageList)
        last = messages.last_answer()
        if last is not None and service.messages and service.messages[-1].role != USER:
            await last.remove()
        await messages.remove_sources_after_last_question()
        conversation = self._conversation()
        asked = [m for m in conversation.messages if m.role == USER] if conversation else []
        self._sources = source_lines(asked[-1].sources, self.app.translator) if asked else []
        try:
            answer = service.regenerate(self.app.sampling())
        except (AmaliaError, ValueError) as exc:
            self._error(exc)
            return
        await self._start(answer)

    async def action_edit_last(self) -> None:
        if self.generating or self.conversation_id is None:
            return
        text = self._service().take_back_last_question()
        if text is None:
            return
        await self.query_one(MessageList).remove_from_last_question()
        await self.reattach(self._service().taken_back_documents)
        prompt = self.query_one(PromptInput)
        prompt.text = text
        prompt.focus()

    def action_copy_answer(self) -> None:
        """Copy the text selected with the mouse; without a selection, the answer that has
        focus (Shift+Tab or a click selects one), else the last. What is highlighted is
        what a user expects to get, as in a terminal or an editor."""
        if self._copy_selection():
            return
        t = self.app.t
        focused = self.focused
        if isinstance(focused, AnswerMessage):
            text: str | None = focused.source
        else:
            text = self.service.last_answer() if self.service else None
        if text is None:
            conversation = self._conversation()
            answers = (
                [m.content for m in conversation.messages if m.role != USER] if conversation else []
            )
            text = answers[-1] if answers else None
        if not text:
            self.notify(t("chat.nothing_to_copy"), severity="warning")
            return
        self.app.copy_to_clipboard(text)
        self.notify(t("chat.copied"))

    def action_copy_text(self) -> None:
        """Textual's own Ctrl+C on a screen: the selection, said like F3 says it."""
        if not self._copy_selection():
            raise SkipAction()  # nothing selected: Ctrl+C goes on to the app's binding

    def _copy_selection(self) -> bool:
        selected = self.get_selected_text()
        if not selected:
            return False
        self.app.copy_to_clipboard(selected)
        self.notify(self.app.t("chat.copied_selection"))
        return True

    def action_toggle_sidebar(self) -> None:
        self.query_one(Sidebar).toggle_class("-hidden")

    def action_search(self) -> None:
        sidebar = self.query_one(Sidebar)
        sidebar.remove_class("-hidden")
        sidebar.query_one("#search").focus()

    def action_settings(self) -> None:
        if self.generating:
            self.notify(self.app.t("chat.busy"), severity="warning")
            return
        self.app.open_settings()

    def _target_id(self) -> int | None:
        """The conversation highlighted in the sidebar when it has focus, else the open one."""
        sidebar = self.query_one(Sidebar)
        if sidebar.has_focus_within:
            return sidebar.highlighted_id()
        return self.conversation_id

    def _conversation(self, conversation_id: int | None = None):
        target = self.conversation_id if conversation_id is None else conversation_id
        return self.app.store.get(target) if target is not None else None

    @work
    async def action_rename(self) -> None:
        t = self.app.t
        target = self._target_id()
        conversation = self._conversation(target)
        if conversation is None:
            return
        title = await self.app.push_screen_wait(
            TextPromptScreen(
                t("rename.question"), conversation.title, t("rename.ok"), t("dialog.cancel")
            )
        )
        if title:
            self.app.store.rename(conversation.id, title)
            if conversation.id == self.conversation_id:
                self._show_title(title)
            await self.refresh_sidebar()

    @work
    async def action_delete(self) -> None:
        t = self.app.t
        target = self._target_id()
        conversation = self._conversation(target)
        if conversation is None or (self.generating and target == self.conversation_id):
            return
        confirmed = await self.app.push_screen_wait(
            ConfirmScreen(
                t("delete.question", title=conversation.title), t("delete.ok"), t("dialog.cancel")
            )
        )
        if not confirmed:
            return
        self.app.store.delete(conversation.id)
        if conversation.id == self.conversation_id:
            await self.action_new_conversation()
        else:
            await self.refresh_sidebar()
        self.notify(t("delete.done"))

    @work
    async def action_export(self) -> None:
        t = self.app.t
        conversation = self._conversation(self._target_id())
        if conversation is None:
            self.notify(t("export.nothing"), severity="warning")
            return
        default = Path.cwd() / f"{_slug(conversation.title)}.md"
        answer = await self.app.push_screen_wait(
            TextPromptScreen(t("export.question"), str(default), t("export.ok"), t("dialog.cancel"))
        )
        if not answer:
            return
        path = Path(answer).expanduser()
        try:
            path.write_text(to_markdown(conversation, self.app.translator), encoding="utf-8")
        except OSError as exc:
            self.notify(t("export.failed", path=path, reason=exc.strerror or exc), severity="error")
            return
        self.notify(t("export.done", path=path))

    # --- opening and searching -----------------------------------------------------------
    @on(Sidebar.Opened)
    async def _opened(self, event: Sidebar.Opened) -> None:
        await self.open_conversation(event.conversation_id)

    @on(Sidebar.SearchChanged)
    async def _search_changed(self, event: Sidebar.SearchChanged) -> None:
        await self.refresh_sidebar()

    async def open_conversation(self, conversation_id: int) -> None:
        t = self.app.t
        if self.generating:
            self.notify(t("chat.busy"), severity="warning")
            return
        conversation = self._conversation(conversation_id)
        if conversation is None:
            return
        self.service = None
        self.conversation_id = conversation.id
        self._last_stats = None
        messages = self.query_one(MessageList)
        await messages.clear_messages()
        you, model = t("chat.you"), self.app.model_label()
        sources: list[str] = []
        for message in visible_history(conversation):
            if message.role == USER:
                shown = self.question_with_attachments(
                    message.content, message.attachments, message.sources
                )
                await messages.add_user(shown, you)
                sources = source_lines(message.sources, self.app.translator)
            else:
                note = (
                    ""
                    if message.complete and message.stop_reason != "cancelled"
                    else t("chat.stopped")
                )
                await messages.add_answer(message.content, model, note=note)
                if sources:
                    await messages.add_sources("\n".join(sources))
                    sources = []
        self._show_title(conversation.title)
        self.refresh_status()
        self.query_one(PromptInput).focus()

    def _show_title(self, title: str | None = None) -> None:
        if title is None:
            conversation = self._conversation()
            title = conversation.title if conversation else None
        self.query_one("#conversation").border_title = title or self.app.t("chat.new_title")


def _slug(title: str) -> str:
    slug = re.sub(r"[^\w-]+", "-", title.lower(), flags=re.UNICODE).strip("-")
    return slug[:50] or "conversa"
