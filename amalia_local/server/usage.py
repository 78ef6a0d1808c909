"""What one HTTP request used: who sent it, the sequences it decoded, what it cost.

The accounting middleware (accounting.py) opens a :class:`RequestRecord` for every
request and makes it current (a context variable, which Starlette's worker threads
inherit); :meth:`ModelHost.submit`, the one door through which any route reaches the
model, attaches each sequence it queues to the current record. So a route added later
(Ollama's /api/chat, say) is accounted for without a line of its own: the middleware
reads the tokens and timings from the sequences once the answer has been sent.
"""

from __future__ import annotations

import contextvars
import time
from dataclasses import dataclass, field

from amalia_local.engine.batch import Sequence, Sink

_current: contextvars.ContextVar[RequestRecord | None] = contextvars.ContextVar(
    "amalia_request", default=None
)


@dataclass
class RequestRecord:
    method: str
    path: str
    client: str | None
    started: float = field(default_factory=time.perf_counter)  # perf_counter, like sequences'
    time: float = field(default_factory=time.time)  # wall clock, for the audit log
    key: str | None = None  # the key's name; None: no key (or none needed)
    model: str | None = None
    status: int | None = None  # the response's, once it has started
    sequences: list[Sequence] = field(default_factory=list)
    keep_content: bool = False
    body: list[bytes] = field(default_factory=list)  # the request body (keep_content only)
    answer: list[str] = field(default_factory=list)  # the text produced (keep_content only)


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0
    evaluated_tokens: int = 0
    prompt_seconds: float = 0.0
    # From the request's arrival to its first token (None: no token was produced).
    time_to_first_token_s: float | None = None

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def usage(record: RequestRecord) -> Usage:
    """The sums over the record's sequences (several, if a route ever submits several)."""
    prompt = cached = completion = evaluated = 0
    prompt_seconds = 0.0
    first: float | None = None
    for sequence in record.sequences:
        stats = sequence.stats
        prompt += stats.prompt_tokens
        cached += stats.prompt_tokens_cached
        completion += stats.generated_tokens
        evaluated += stats.prompt_tokens_evaluated
        prompt_seconds += stats.prompt_seconds
        if stats.sampled_tokens > 0:
            at = sequence.submitted + stats.time_to_first_token_s - record.started
            first = at if first is None else min(first, at)
    return Usage(prompt, cached, completion, evaluated, prompt_seconds, first)


def begin(record: RequestRecord) -> contextvars.Token[RequestRecord | None]:
    return _current.set(record)


def end(token: contextvars.Token[RequestRecord | None]) -> None:
    _current.reset(token)


def watch(sink: Sink) -> Sink:
    """``sink``, copying the text into the current record when its content is kept."""
    record = _current.get()
    if record is None or not record.keep_content:
        return sink
    answer = record.answer

    def copying(item: str | None) -> None:
        if item is not None:
            answer.append(item)
        sink(item)

    return copying


def attach(sequence: Sequence, model: str) -> None:
    """Count ``sequence`` as the current request's (no request: a test, a warm-up)."""
    record = _current.get()
    if record is not None:
        record.model = model
        record.sequences.append(sequence)
