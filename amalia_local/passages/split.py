"""Passages that follow a document's structure: pages, paragraphs, headings, articles.

A passage is a few hundred tokens (estimated from characters: the exact count, which
needs the model's tokenizer, is taken only for the passages chosen). Breaks are made,
in order of preference, where a Portuguese legal article ("Artigo 12.º") or a heading
begins, at a page's end, between paragraphs, between lines, between sentences, and
only for a run-on text between words. Each passage knows its file and its pages, and
the article or heading it belongs to, so it can be cited and found by it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from amalia_local.documents.document import Document

CHARS_PER_TOKEN = 4  # Portuguese prose in AMALIA's tokenizer: ~3.5-4.5 characters a token
TARGET_TOKENS = 300  # a passage grows until about this size...
MAX_TOKENS = 450  # ...and is never larger than this (estimated)

# "Artigo 12.º", "ARTIGO 3.°", "Art. 7.o", "Artigo 101º-A", "Artigo único".
ARTICLE = re.compile(
    r"^\s*(?:artigo|art\.)\s+(?:\d+(?:\s*\.?\s*[ºo°])?(?:\s*-\s*[A-Z])?|[úu]nico)\b\.?",
    re.IGNORECASE,
)
# CAPÍTULO II, SECÇÃO I, TÍTULO III, ANEXO, PARTE, Markdown headings.
HEADING = re.compile(
    r"^\s*(?:#{1,6}\s+\S|(?:cap[íi]tulo|sec[çc][ãa]o|se[çc][ãa]o|t[íi]tulo|subsec[çc][ãa]o"
    r"|parte|anexo|livro)\b)",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+")


@dataclass(frozen=True)
class Passage:
    """One passage: where it comes from and its text as the model will read it."""

    file: str
    text: str
    first_page: int | None = None  # None for documents without page breaks (DOCX, text)
    last_page: int | None = None
    section: str = ""  # the article or heading line it belongs to ("Artigo 12.º")

    @property
    def estimated_tokens(self) -> int:
        return estimate_tokens(self.text)


def estimate_tokens(text: str) -> int:
    return max(1, len(text) // CHARS_PER_TOKEN)


@dataclass
class _Block:
    """A paragraph (or a piece of one) with its page and whether a new passage starts."""

    text: str
    page: int | None
    starts_section: bool  # an article or a heading begins here
    section: str
    heading: bool = False  # a heading (CAPÍTULO...), which stays with what follows it


def split_document(
    document: Document, target: int = TARGET_TOKENS, limit: int = MAX_TOKENS
) -> list[Passage]:
    passages: list[Passage] = []
    current: list[_Block] = []

    def flush() -> None:
        if current:
            passages.append(_passage(document.name, current))
            current.clear()

    size = 0
    for block in _blocks(document, target):
        tokens = estimate_tokens(block.text)
        page_turned = bool(current) and block.page != current[-1].page
        only_headings = all(b.heading for b in current) and size + tokens <= limit
        if current and (
            (block.starts_section and not only_headings)
            or size + tokens > limit
            or size >= target
            or (page_turned and size >= target // 2)
        ):
            flush()
            size = 0
        current.append(block)
        size += tokens
    flush()
    return passages


def _passage(file: str, blocks: list[_Block]) -> Passage:
    pages = [b.page for b in blocks if b.page is not None]
    return Passage(
        file=file,
        text="\n\n".join(b.text for b in blocks),
        first_page=min(pages) if pages else None,
        last_page=max(pages) if pages else None,
        section=next((b.section for b in blocks if b.starts_section and not b.heading), "")
        or blocks[0].section,
    )


def _pages(document: Document) -> Iterator[tuple[int | None, str]]:
    starts = document.page_starts
    if not starts:
        yield None, document.text
        return
    if starts[0][0] > 0:
        yield starts[0][1], document.text[: starts[0][0]]
    for (at, number), following in zip(starts, [*starts[1:], (len(document.text), 0)], strict=True):
        yield number, document.text[at : following[0]]


def _blocks(document: Document, target: int) -> Iterator[_Block]:
    section = ""
    for page, text in _pages(document):
        for paragraph in _paragraphs(text):
            first = paragraph.split("\n", 1)[0].strip()
            heading = bool(HEADING.match(first))
            starts = heading or bool(ARTICLE.match(first))
            if starts:
                section = first[:120]
            for i, piece in enumerate(_pieces(paragraph, target * CHARS_PER_TOKEN)):
                yield _Block(piece, page, starts and i == 0, section, heading and i == 0)


def _paragraphs(text: str) -> Iterator[str]:
    """Blank-line separated paragraphs; a PDF's text layer often has none, so a line that
    opens an article or a heading is a paragraph's start too."""
    for chunk in re.split(r"\n\s*\n", text):
        lines: list[str] = []
        for line in chunk.split("\n"):
            if lines and (ARTICLE.match(line) or HEADING.match(line)):
                yield "\n".join(lines).strip()
                lines = []
            lines.append(line)
        joined = "\n".join(lines).strip()
        if joined:
            yield joined


def _pieces(text: str, max_chars: int) -> Iterator[str]:
    """``text`` cut to at most ``max_chars``: at lines, then sentences, then words."""
    if len(text) <= max_chars:
        yield text
        return
    parts, joiner = _parts(text)
    if len(parts) == 1:  # one unbroken run of characters
        for start in range(0, len(text), max_chars):
            yield text[start : start + max_chars]
        return
    buffer = ""
    for part in parts:
        candidate = f"{buffer}{joiner}{part}" if buffer else part
        if len(candidate) <= max_chars:
            buffer = candidate
            continue
        if buffer:
            yield buffer
        buffer = ""
        if len(part) > max_chars:
            yield from _pieces(part, max_chars)
        else:
            buffer = part
    if buffer:
        yield buffer


def _parts(text: str) -> tuple[list[str], str]:
    for parts, joiner in (
        (text.split("\n"), "\n"),
        (_SENTENCE_END.split(text), " "),
        (text.split(" "), " "),
    ):
        parts = [p for p in parts if p.strip()]
        if len(parts) > 1:
            return parts, joiner
    return [text], ""
