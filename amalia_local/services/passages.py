"""Documents longer than the context, read in passages: the best ones for the question,
within a token budget, each given to the model with its source.

Whole when it fits, passages when it does not (``run --passages`` / ``--whole`` choose).
The passages chosen become :class:`Document` s of kind ``excerpt`` named by their source
("regulamento.pdf, p. 45 (Artigo 12.º)"), so framing, saving and continuing a
conversation treat them as any attachment, and the prompt a follow-up renders is the one
whose KV state was saved.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TextIO

from amalia_local.conversations.store import StoredSource
from amalia_local.documents import Document, compose
from amalia_local.documents.framing import EXCERPT, frame
from amalia_local.engine.chat import ChatSession
from amalia_local.engine.options import SamplingOptions
from amalia_local.errors import AmaliaError
from amalia_local.formatting import Count
from amalia_local.i18n import Translator
from amalia_local.passages.budget import within_budget
from amalia_local.passages.index import Hit, PassageIndex, search_many
from amalia_local.passages.split import Passage, estimate_tokens
from amalia_local.progress import Progress

BUDGET = 1500  # tokens of passages per question: ~100 s of reading at 15 tokens/s
CANDIDATES = 40  # passages ranked before the budget is applied
PROGRESS_FROM = 300  # passages: a document this long shows its indexing on stderr

# Told (documents done, of total) before each document's index is opened.
OnIndex = Callable[[int, int], None]


class Mode(Enum):
    AUTO = "auto"  # whole when it fits, passages when not
    PASSAGES = "passages"
    WHOLE = "whole"


class NoMatchingPassage(AmaliaError):
    """No passage shares a meaningful word with the question: nothing to answer from."""


@dataclass(frozen=True)
class Chosen:
    hit: Hit
    tokens: int
    excerpt: Document
    in_context: bool = False  # given with an earlier question and still in the context

    @property
    def passage(self) -> Passage:
        return self.hit.passage


@dataclass(frozen=True)
class Excerpts:
    """The passages chosen for a question: those sent with it, and those a follow-up
    found again that the conversation already holds (not sent twice)."""

    chosen: tuple[Chosen, ...]
    total: int  # passages the documents were split into

    @property
    def given(self) -> tuple[Chosen, ...]:
        return tuple(c for c in self.chosen if not c.in_context)

    @property
    def tokens(self) -> int:
        """The tokens of the passages sent with this question, framed."""
        return sum(c.tokens for c in self.given)

    @property
    def documents(self) -> tuple[Document, ...]:
        return tuple(c.excerpt for c in self.given)

    def summary(self, translator: Translator) -> str:
        reused = len(self.chosen) - len(self.given)
        return translator.t(
            "passages.summary_reused" if reused else "passages.summary",
            given=Count(len(self.given)),
            total=Count(self.total),
            tokens=Count(self.tokens),
            reused=Count(reused),
        )

    def sources(self, translator: Translator) -> list[str]:
        return source_lines(self.stored(), translator)

    def stored(self) -> tuple[StoredSource, ...]:
        """What is saved with the question, and shown under its answer."""
        return tuple(
            StoredSource(
                c.excerpt.name,
                c.passage.file,
                c.passage.first_page,
                c.passage.last_page,
                c.passage.section,
                round(c.hit.score, 3),
                c.tokens,
                not c.in_context,
            )
            for c in self.chosen
        )

    def as_json(self) -> list[dict]:
        return [
            {
                "file": c.passage.file,
                "pages": _pages(c.passage),
                "section": c.passage.section or None,
                "score": round(c.hit.score, 3),
                "tokens": c.tokens,
                "in_context": c.in_context,
            }
            for c in self.chosen
        ]


def source_lines(sources: Sequence[StoredSource], translator: Translator) -> list[str]:
    """``fontes:`` and one line per passage; one the conversation already held says so."""
    if not sources:
        return []
    lines = [translator.t("passages.sources")]
    for source in sources:
        line = f"  {source.label}"
        if not source.given:
            line += f" ({translator.t('passages.in_context')})"
        lines.append(line)
    return lines


@dataclass(frozen=True)
class Reading:
    """How a question's documents are read: what it is sent with, and the passages."""

    documents: tuple[Document, ...]  # whole documents, or the new passages, to send
    excerpts: Excerpts | None  # None: read whole (or nothing to search)
    searched: tuple[Document, ...]  # what the conversation now reads in passages


def fits_whole(
    session: ChatSession, question: str, documents: Sequence[Document], sampling: SamplingOptions
) -> bool:
    """Whether the documents and the question fit the context with room for the answer
    (a remote model's server decides: assumed yes)."""
    needed = session.tokens_alone(compose(question, documents))
    if needed is None:
        return True
    return needed + session.reply_reserve(sampling) <= session.engine.n_ctx


def index_ahead(
    session: ChatSession, document: Document, tokens: int | None, cache_dir: Path
) -> None:
    """Index ``document`` now if it may be read in passages (more than half the
    context): the chat calls this in the worker that attaches it, so asking later does
    not wait for the index. A remote model (``tokens`` None) reads documents whole."""
    engine = session.engine
    if tokens is None or engine is None or tokens <= engine.n_ctx // 2:
        return
    PassageIndex.open(document, cache_dir).close()


def read_for_question(
    session: ChatSession,
    question: str,
    documents: Sequence[Document],
    sampling: SamplingOptions,
    cache_dir: Path,
    *,
    mode: Mode = Mode.AUTO,
    searched: Sequence[Document] = (),
    in_context: Collection[tuple[str, str]] = (),
    translator: Translator | None = None,
    err: TextIO | None = None,
    on_index: OnIndex | None = None,
) -> Reading:
    """Whole when the documents fit (or ``--whole``), else their best passages; with no
    new documents, a follow-up searches again what the conversation reads in passages.

    ``searched``: documents read in passages earlier (only their hash and name are
    needed: their index is in the cache). ``in_context``: (name, text) of passages the
    conversation holds already; found again, they are listed but not sent twice.
    :class:`NoMatchingPassage` when new documents have no passage for the question; a
    follow-up that matches nothing new is sent as it is (the history answers it).
    ``on_index(done, total)``: called before each document's index is opened (built if
    the cache lacks it); the chat shows it, and stops by raising from it."""
    if documents:
        if mode is Mode.WHOLE or (
            mode is Mode.AUTO and fits_whole(session, question, documents, sampling)
        ):
            return Reading(tuple(documents), None, tuple(searched))
        known = {(d.sha256, d.page_range) for d in searched}
        everything = (*searched, *(d for d in documents if (d.sha256, d.page_range) not in known))
        excerpts = choose(
            session, question, everything, sampling, cache_dir, translator, err,
            in_context=in_context, on_index=on_index,
        )  # fmt: skip
        return Reading(excerpts.documents, excerpts, everything)
    if not searched:
        return Reading((), None, ())
    try:
        excerpts = choose(
            session, question, searched, sampling, cache_dir,
            in_context=in_context, build=False, on_index=on_index,
        )  # fmt: skip
    except NoMatchingPassage:
        return Reading((), None, tuple(searched))
    return Reading(excerpts.documents, excerpts, tuple(searched))


def choose(
    session: ChatSession,
    question: str,
    documents: Sequence[Document],
    sampling: SamplingOptions,
    cache_dir: Path,
    translator: Translator | None = None,
    err: TextIO | None = None,
    budget: int = BUDGET,
    *,
    in_context: Collection[tuple[str, str]] = (),
    build: bool = True,
    on_index: OnIndex | None = None,
) -> Excerpts:
    """The best passages of ``documents`` for ``question`` that fit ``budget`` tokens
    and the context; :class:`NoMatchingPassage` when none matches. Passages in
    ``in_context`` cost nothing (they are not sent again). ``build=False``: search only
    the documents whose index the cache has (a follow-up has no text to index)."""
    indexes = _indexes(documents, cache_dir, translator, err, build, on_index)
    try:
        total = sum(len(i) for i in indexes)
        hits = search_many(indexes, question, CANDIDATES) if indexes else []
    finally:
        for index in indexes:
            index.close()
    if not hits:
        raise NoMatchingPassage("passages.none", count=Count(total))
    sources = {d.name: d for d in documents}
    room = _room(session, question, sampling)
    budget = min(budget, room) if room is not None else budget
    held = set(in_context)
    candidates = []
    for hit in hits:
        excerpt = _excerpt(hit.passage, sources[hit.passage.file])
        candidates.append((hit, excerpt, (excerpt.name, excerpt.text) in held))

    def cost(candidate: tuple[Hit, Document, bool]) -> int:
        return 0 if candidate[2] else _tokens(session, frame(candidate[1]))

    fitting = within_budget(candidates, budget, cost)
    chosen = [Chosen(hit, tokens, excerpt, had) for (hit, excerpt, had), tokens in fitting]
    # The exact count of the whole message decides: drop the weakest new ones until it fits.
    while not fits_whole(
        session, question, [c.excerpt for c in chosen if not c.in_context], sampling
    ):
        weakest = max((i for i, c in enumerate(chosen) if not c.in_context), default=None)
        if weakest is None:
            break
        del chosen[weakest]
    if not chosen:
        raise NoMatchingPassage("passages.no_room", count=Count(total))
    return Excerpts(tuple(chosen), total)


def _room(session: ChatSession, question: str, sampling: SamplingOptions) -> int | None:
    alone = session.tokens_alone(compose(question))
    if alone is None:
        return None
    return session.engine.n_ctx - session.reply_reserve(sampling) - alone - 64


def _tokens(session: ChatSession, text: str) -> int:
    counted = session.count_tokens(text)
    return counted if counted is not None else estimate_tokens(text)


def _indexes(
    documents: Sequence[Document],
    cache_dir: Path,
    translator: Translator | None,
    err: TextIO | None,
    build: bool,
    on_index: OnIndex | None = None,
) -> list[PassageIndex]:
    indexes: list[PassageIndex] = []
    try:
        for done, document in enumerate(documents):
            if on_index is not None:
                on_index(done, len(documents))
            index = _index(document, cache_dir, translator, err, build)
            if index is not None:
                indexes.append(index)
    except BaseException:  # stopped (or failed) halfway: close what was opened
        for index in indexes:
            index.close()
        raise
    return indexes


def _index(
    document: Document,
    cache_dir: Path,
    translator: Translator | None,
    err: TextIO | None,
    build: bool,
) -> PassageIndex | None:
    """``document``'s index, built if the cache lacks it; ``build=False``: only a cached
    one (None without)."""
    if not build:
        return PassageIndex.cached(document, cache_dir)

    def progress(total: int) -> Progress | None:
        if err is None or translator is None or total < PROGRESS_FROM:
            return None
        return Progress(
            total,
            unit=translator.t("passages.unit"),
            label=translator.t("passages.indexing", name=document.name),
            stream=err,
            numbers=translator.numbers,
        )

    return PassageIndex.open(document, cache_dir, progress)


def _pages(passage: Passage) -> list[int] | None:
    if passage.first_page is None:
        return None
    return list(range(passage.first_page, (passage.last_page or passage.first_page) + 1))


def source_label(passage: Passage) -> str:
    """How the model and the user see where a passage comes from."""
    label = passage.file
    if passage.first_page is not None:
        if passage.last_page and passage.last_page != passage.first_page:
            label += f", pp. {passage.first_page}-{passage.last_page}"
        else:
            label += f", p. {passage.first_page}"
    if passage.section:
        label += f" ({' '.join(passage.section.split())[:60]})"
    return label


def _excerpt(passage: Passage, source: Document) -> Document:
    return Document(
        name=source_label(passage),
        text=passage.text,
        sha256=source.sha256,
        kind=EXCERPT,
    )
