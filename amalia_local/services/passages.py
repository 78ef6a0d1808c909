"""Documents longer than the context, read in passages: the best ones for the question,
within a token budget, each given to the model with its source.

Whole when it fits, passages when it does not (``run --passages`` / ``--whole`` choose).
The passages chosen become :class:`Document` s of kind ``excerpt`` named by their source
("regulamento.pdf, p. 45 (Artigo 12.º)"), so framing, saving and continuing a
conversation treat them as any attachment, and the prompt a follow-up renders is the one
whose KV state was saved.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TextIO

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

    @property
    def passage(self) -> Passage:
        return self.hit.passage


@dataclass(frozen=True)
class Excerpts:
    chosen: tuple[Chosen, ...]
    total: int  # passages the documents were split into
    tokens: int  # the chosen passages' tokens, framed

    @property
    def documents(self) -> tuple[Document, ...]:
        return tuple(c.excerpt for c in self.chosen)

    def summary(self, translator: Translator) -> str:
        return translator.t(
            "passages.summary",
            given=Count(len(self.chosen)),
            total=Count(self.total),
            tokens=Count(self.tokens),
        )

    def sources(self, translator: Translator) -> list[str]:
        return [translator.t("passages.sources")] + [f"  {c.excerpt.name}" for c in self.chosen]

    def as_json(self) -> list[dict]:
        return [
            {
                "file": c.passage.file,
                "pages": _pages(c.passage),
                "section": c.passage.section or None,
                "score": round(c.hit.score, 3),
                "tokens": c.tokens,
            }
            for c in self.chosen
        ]


def fits_whole(
    session: ChatSession, question: str, documents: Sequence[Document], sampling: SamplingOptions
) -> bool:
    """Whether the documents and the question fit the context with room for the answer
    (a remote model's server decides: assumed yes)."""
    needed = session.tokens_alone(compose(question, documents))
    if needed is None:
        return True
    return needed + session.reply_reserve(sampling) <= session.engine.n_ctx


def choose(
    session: ChatSession,
    question: str,
    documents: Sequence[Document],
    sampling: SamplingOptions,
    cache_dir: Path,
    translator: Translator,
    err: TextIO | None = None,
    budget: int = BUDGET,
) -> Excerpts:
    """The best passages of ``documents`` for ``question`` that fit ``budget`` tokens
    and the context; :class:`NoMatchingPassage` when none matches."""
    indexes = [_index(d, cache_dir, translator, err) for d in documents]
    try:
        total = sum(len(i) for i in indexes)
        hits = search_many(indexes, question, CANDIDATES)
    finally:
        for index in indexes:
            index.close()
    if not hits:
        raise NoMatchingPassage("passages.none", count=Count(total))
    sources = {d.name: d for d in documents}
    room = _room(session, question, sampling)
    budget = min(budget, room) if room is not None else budget
    excerpts = [(hit, _excerpt(hit.passage, sources[hit.passage.file])) for hit in hits]
    fitting = within_budget(excerpts, budget, lambda pair: _tokens(session, frame(pair[1])))
    chosen = [Chosen(hit, tokens, excerpt) for (hit, excerpt), tokens in fitting]
    used = sum(c.tokens for c in chosen)
    # The exact count of the whole message decides: drop the weakest until it fits.
    while chosen and not fits_whole(session, question, [c.excerpt for c in chosen], sampling):
        used -= chosen.pop().tokens
    if not chosen:
        raise NoMatchingPassage("passages.no_room", count=Count(total))
    return Excerpts(tuple(chosen), total, used)


def _room(session: ChatSession, question: str, sampling: SamplingOptions) -> int | None:
    alone = session.tokens_alone(compose(question))
    if alone is None:
        return None
    return session.engine.n_ctx - session.reply_reserve(sampling) - alone - 64


def _tokens(session: ChatSession, text: str) -> int:
    counted = session.count_tokens(text)
    return counted if counted is not None else estimate_tokens(text)


def _index(
    document: Document, cache_dir: Path, translator: Translator, err: TextIO | None
) -> PassageIndex:
    def progress(total: int) -> Progress | None:
        if err is None or total < PROGRESS_FROM:
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
