"""A conversation on top of the engine: history, context trimming, streamed replies.

The session owns the messages; the engine owns the KV cache. Each turn renders the whole
history through the chat template, and the engine's cache memo makes sure only the new
tokens are evaluated.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

from amalia_local.engine.options import DEFAULT_REPLY_RESERVE, SamplingOptions
from amalia_local.engine.stats import ReplyStats
from amalia_local.engine.template import Message
from amalia_local.errors import ContextOverflowError
from amalia_local.formatting import Count

if TYPE_CHECKING:  # the remote model shares Reply and ChatSession without llama.cpp
    from amalia_local.engine.model import Engine

USER = "user"
ASSISTANT = "assistant"
SYSTEM = "system"


class Reply:
    """One answer being streamed. Iterate for text chunks; ``cancel()`` from any thread.

    When iteration ends (finished, cancelled, or abandoned) the text produced so far is
    recorded in the session, so a stopped answer is kept, never lost.
    """

    def __init__(
        self,
        session: ChatSession,
        chunks: Iterator[str],
        stats: ReplyStats,
        cancel_event: threading.Event,
    ) -> None:
        self._session = session
        self._chunks = chunks
        self._parts: list[str] = []
        self._cancel = cancel_event
        self._done = False
        self.stats = stats

    def __iter__(self) -> Iterator[str]:
        if self._done:
            return
        try:
            for chunk in self._chunks:
                self._parts.append(chunk)
                yield chunk
        finally:
            if not self._done:
                self._done = True
                if hasattr(self._chunks, "close"):
                    self._chunks.close()
                self._session._record_answer(self.text)

    def consume(self) -> str:
        """Run to the end without streaming (scripts, tests); returns the whole answer."""
        for _ in self:
            pass
        return self.text

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def text(self) -> str:
        return "".join(self._parts)

    @property
    def done(self) -> bool:
        return self._done


class ChatSession:
    """A conversation with an optional system prompt that is never trimmed away."""

    def __init__(
        self,
        engine: Engine,
        system_prompt: str | None = None,
        history: list[Message] | None = None,
    ) -> None:
        self.engine = engine
        self.system_prompt = system_prompt or None
        self.messages: list[Message] = list(history or [])
        # Index of the oldest message still sent to the model; it only moves forward so
        # the rendered prefix (and the KV cache built on it) stays stable between turns.
        self.window_start = 0

    # --- public API ---------------------------------------------------------------------
    def send(self, text: str, sampling: SamplingOptions | None = None) -> Reply:
        self.messages.append(Message(USER, text))
        return self._reply(sampling or SamplingOptions())

    def regenerate(self, sampling: SamplingOptions | None = None) -> Reply:
        """Answer the last question again, replacing the previous answer."""
        if self.messages and self.messages[-1].role == ASSISTANT:
            self.messages.pop()
        if not self.messages or self.messages[-1].role != USER:
            raise ValueError("nothing to regenerate: the conversation has no question")
        return self._reply(sampling or SamplingOptions())

    def count_tokens(self, text: str) -> int | None:
        """Tokens of ``text`` on its own (a document's size); None for a remote model."""
        if self.engine is None:
            return None
        return len(self.engine.tokenize(text, add_special=False))

    def tokens_alone(self, text: str) -> int | None:
        """Tokens of the system prompt and ``text`` as the only question: what has to fit
        however many earlier turns are dropped. None for a remote model (its server
        decides)."""
        if self.engine is None:
            return None
        head = [Message(SYSTEM, self.system_prompt)] if self.system_prompt else []
        rendered = self.engine.template.render([*head, Message(USER, text)])
        return len(self.engine.chat_tokens(rendered))

    def reply_reserve(self, sampling: SamplingOptions) -> int:
        """Context kept free for the answer."""
        return min(sampling.max_tokens or DEFAULT_REPLY_RESERVE, self.engine.n_ctx // 4)

    def visible_messages(self) -> list[Message]:
        head = [Message(SYSTEM, self.system_prompt)] if self.system_prompt else []
        return head + self.messages[self.window_start :]

    # --- internals ------------------------------------------------------------------------
    def _reply(self, sampling: SamplingOptions) -> Reply:
        stats = ReplyStats()
        text, tokens, dropped = self._fit_prompt(sampling)
        stats.dropped_messages = dropped
        cancel = threading.Event()
        chunks = self.engine.generate(
            text, tokens, sampling, stats, cancel, shared_prefix=self._system_tokens(tokens)
        )
        return Reply(self, chunks, stats, cancel)

    def _system_tokens(self, tokens: list[int]) -> int:
        """How many leading ``tokens`` are the system prompt alone (0 if not separable).

        Every conversation with this system prompt starts with them, so the engine saves
        their state once for all: a new conversation does not evaluate them again.
        """
        if not self.system_prompt:
            return 0
        head = self.engine.template.render(
            [Message(SYSTEM, self.system_prompt)], add_generation_prompt=False
        )
        head_tokens = self.engine.chat_tokens(head)  # as the prompt itself is tokenized
        return len(head_tokens) if tokens[: len(head_tokens)] == head_tokens else 0

    def _render(self) -> tuple[str, list[int]]:
        text = self.engine.template.render(self.visible_messages(), add_generation_prompt=True)
        return text, self.engine.prompt_tokens(text)

    def _fit_prompt(self, sampling: SamplingOptions) -> tuple[str, list[int], int]:
        """Drop the oldest turns until the prompt leaves room for the reply.

        When trimming is needed we drop down to half the context, not just below the
        limit: the engine cuts the dropped turns out of the KV cache and shifts the rest
        back (no re-evaluation), and doing that once per many turns keeps it rare.
        """
        n_ctx = self.engine.n_ctx
        reserve = self.reply_reserve(sampling)
        limit = n_ctx - reserve
        text, tokens = self._render()
        first_kept = self.window_start
        if len(tokens) > limit:
            target = min(limit, n_ctx // 2)
            while len(tokens) > target and self._drop_oldest_turn():
                text, tokens = self._render()
        dropped = self.window_start - first_kept
        if len(tokens) > limit:
            raise ContextOverflowError(
                "error.message_too_long",
                needed=Count(len(tokens)),
                n_ctx=Count(n_ctx),
                reserve=Count(reserve),
            )
        return text, tokens, dropped

    def _drop_oldest_turn(self) -> bool:
        """Move the window past one question and its answers; never past the last question."""
        last_user = max((i for i, m in enumerate(self.messages) if m.role == USER), default=-1)
        start = self.window_start
        if start >= last_user:
            return False
        end = start + 1
        while end < last_user and self.messages[end].role != USER:
            end += 1
        self.window_start = end
        return True

    def _record_answer(self, text: str) -> None:
        self.messages.append(Message(ASSISTANT, text))
