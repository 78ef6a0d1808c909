"""The chat's documents: attaching files to the next question, and the reading progress.

A mixin of :class:`~amalia_local.tui.screens.chat.ChatScreen`, kept apart so the chat
screen itself stays about conversations. Files are read in a thread worker (a PDF of a
hundred pages takes a moment), each becomes a block in the :class:`AttachmentBar`; the
question is sent with them, framed and saved by the chat service. While the prompt is
read, the status line says how far the reading has got (polled, twice a second).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from textual import work
from textual.message import Message
from textual.timer import Timer

from amalia_local.documents import DocumentError, read_document
from amalia_local.documents.folder import FolderWithoutDocuments, read_folder
from amalia_local.documents.framing import EXCERPT
from amalia_local.formatting import Count
from amalia_local.services.passages import index_ahead
from amalia_local.services.reading import reading_text
from amalia_local.tui.pasted import pasted_paths
from amalia_local.tui.screens.attach import AttachScreen
from amalia_local.tui.screens.base import AmaliaScreen
from amalia_local.tui.widgets.attachments import Attached, AttachmentBar, attachment_label
from amalia_local.tui.widgets.status import StatusBar

if TYPE_CHECKING:
    from amalia_local.conversations import StoredAttachment, StoredSource
    from amalia_local.documents import Document
    from amalia_local.services.chat import AnswerStream

READING_POLL_S = 0.5


@dataclass
class AttachmentRead(Message):
    """A file was read (sent from the reading thread)."""

    attached: Attached


@dataclass
class AttachmentFailed(Message):
    error: BaseException


class ChatAttachments(AmaliaScreen[None]):
    """Mixed into ChatScreen (a Screen): uses its ``app``, ``query_one`` and ``notify``."""

    _reading_timer: Timer | None = None
    answer: AnswerStream | None

    # --- attaching ------------------------------------------------------------------------
    @work
    async def action_attach(self) -> None:
        app = self.app
        t = app.t
        typed = await app.push_screen_wait(
            AttachScreen(t("attach.question"), "", t("attach.ok"), t("dialog.cancel"))
        )
        if typed and not self.attach_pasted(typed):
            # Not an existing file or folder as it stands, nor pasted paths: reading
            # it says why (not found, not a document) in one line.
            self.read_attachment(Path(typed.strip()).expanduser())

    def attach_pasted(self, text: str) -> bool:
        """Attach the files and folders a paste names (a drag onto the terminal); False
        (paste as text) if it names none."""
        paths = pasted_paths(text)
        for path in paths or ():
            self.read_attachment(path)
        return bool(paths)

    @work(thread=True, group="attachments", exit_on_error=False)
    def read_attachment(self, path: Path) -> None:
        """Read a file, or every document of a folder (its unreadable files are one
        notice each); one that may be read in passages is indexed here, off the UI."""
        app = self.app
        app.call_from_thread(app.notify, app.t("attach.reading", name=path.name), timeout=2)
        cache_dir = app.runtime.locations.cache_dir
        try:
            if path.is_dir():
                found = read_folder(path, cache_dir=cache_dir)
                for skipped in found.skipped:
                    self.post_message(AttachmentFailed(skipped))
                if not found.documents:
                    raise FolderWithoutDocuments(path)
                documents = found.documents
                read = len(documents)
                said = app.t(
                    "attach.folder_read",
                    name=path.name or str(path),
                    read=Count(read),
                    found=Count(read + len(found.skipped)),
                )
                app.call_from_thread(app.notify, said, timeout=4)
            else:
                documents = (read_document(path, cache_dir=cache_dir),)
        except DocumentError as exc:
            self.post_message(AttachmentFailed(exc))
            return
        model = app.chat_model()
        session = model.new_session() if model is not None else None
        for document in documents:
            tokens = session.count_tokens(document.text) if session is not None else None
            if session is not None:
                index_ahead(session, document, tokens, cache_dir)
            self.post_message(AttachmentRead(Attached(document, tokens)))

    async def on_attachment_read(self, message: AttachmentRead) -> None:
        await self.attachment_bar.add(message.attached, *self._label(message.attached))

    def on_attachment_failed(self, message: AttachmentFailed) -> None:
        app = self.app
        self.notify(app.describe_error(message.error), severity="error", timeout=8)

    async def reattach(self, documents: tuple[StoredAttachment, ...]) -> None:
        """Put a taken-back question's documents back on the bar (edit the last question)."""
        for stored in documents:
            from amalia_local.documents import Document

            document = Document(stored.name, stored.text, stored.sha256, stored.kind, stored.pages)
            attached = Attached(document, None)
            await self.attachment_bar.add(attached, *self._label(attached))

    @property
    def attachment_bar(self) -> AttachmentBar:
        return self.query_one(AttachmentBar)

    def _label(self, attached: Attached) -> tuple[str, str]:
        app = self.app
        d = attached.document
        label = attachment_label(d.name, d.pages, attached.tokens, app.t, app.numbers)
        return label, app.t("attach.remove")

    def question_with_attachments(
        self,
        text: str,
        attachments: Sequence[Document | StoredAttachment],
        sources: Sequence[StoredSource] = (),
    ) -> str:
        """What the message list shows for a question: its files' labels, then the text;
        passages given instead of whole files are one line of them (``sources``)."""
        app = self.app
        labels = [
            "📎 " + attachment_label(a.name, a.pages, None, app.t, app.numbers)
            for a in attachments
            if a.kind != EXCERPT
        ]
        shown = "\n".join([*labels, text]) if labels else text
        if sources:
            given = [s for s in sources if s.given]
            summary = app.t(
                "passages.summary_saved",
                given=app.numbers.count(len(given)),
                tokens=app.numbers.count(sum(s.tokens for s in given)),
            )
            shown += "\n" + summary
        return shown

    # --- reading progress -------------------------------------------------------------------
    def start_reading_progress(self) -> None:
        self.stop_reading_progress()
        self._reading_timer = self.set_interval(READING_POLL_S, self._show_reading)

    def stop_reading_progress(self) -> None:
        if self._reading_timer is not None:
            self._reading_timer.stop()
            self._reading_timer = None

    def _show_reading(self) -> None:
        app = self.app
        answer = self.answer
        text = reading_text(answer.reply.stats, app.translator) if answer is not None else None
        if text is None:
            if answer is None or answer.reply.stats.sampled_tokens:
                self.stop_reading_progress()
            return
        self.query_one(StatusBar).show([app.model_label(), text])
