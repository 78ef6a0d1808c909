"""Documents in a conversation: counted before anything is read, never cut silently.

The question and its documents must fit the context with room for the answer; that is
known from the token count alone, before a single token is evaluated (which on a CPU
may take minutes). When they do not fit, the error says what would: a larger context
if this machine's memory can hold it, the same at half the KV memory (q8_0), or fewer
pages of the largest PDF.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

from amalia_local.conversations import StoredAttachment
from amalia_local.documents import Document, DocumentError
from amalia_local.engine import SamplingOptions
from amalia_local.engine.chat import ChatSession
from amalia_local.engine.options import DEFAULT_REPLY_RESERVE
from amalia_local.errors import AmaliaError
from amalia_local.formatting import Count
from amalia_local.i18n import Joined, Phrase

CTX_STEP = 1024  # suggested contexts are rounded up to this


class DocumentsTooLong(AmaliaError):
    """The documents and the question do not fit the context with room for the answer."""


STDIN_NAME = "stdin"


def read_documents(
    paths: Sequence[str],
    pages: str | None = None,
    piped: bytes | None = None,
    *,
    cache_dir: Path | None = None,
    on_skipped: Callable[[DocumentError], object] | None = None,
) -> tuple[Document, ...]:
    """``--file`` paths, then piped standard input, read before any model is loaded: a
    wrong path should not cost a minute of loading. ``pages`` applies to the PDFs.

    A folder gives every document under it (``documents.folder``: within stated limits);
    the files of a folder that cannot be read are passed to ``on_skipped`` and left out,
    while a file named on its own that cannot be read is an error, as before.
    ``cache_dir``: where extracted text is kept, so no file is extracted twice."""
    from amalia_local.documents import document_from_bytes, read_document, sniff
    from amalia_local.documents.pages import parse_pages

    if pages is not None:
        parse_pages(pages)
    documents: list[Document] = []
    for path in paths:
        folder = Path(path).expanduser()
        if folder.is_dir():
            from amalia_local.documents.folder import FolderWithoutDocuments, read_folder

            found = read_folder(folder, pages, cache_dir)
            for error in found.skipped:
                if on_skipped is not None:
                    on_skipped(error)
            if not found.documents:
                raise FolderWithoutDocuments(folder)
            documents += found.documents
        else:
            documents.append(read_document(path, pages, cache_dir=cache_dir))
    if piped is not None and piped.strip():
        documents.append(document_from_bytes(STDIN_NAME, piped, sniff(piped), pages))
    if pages is not None and not any(d.kind == "pdf" for d in documents):
        raise DocumentError("document.pages_without_pdf")
    return tuple(documents)


def stored(documents: Sequence[Document | StoredAttachment]) -> tuple[StoredAttachment, ...]:
    return tuple(StoredAttachment(d.name, d.text, d.sha256, d.kind, d.pages) for d in documents)


def ensure_room(
    session: ChatSession,
    message: str,
    documents: Sequence[Document | StoredAttachment],
    sampling: SamplingOptions,
) -> None:
    """Raise :class:`DocumentsTooLong` (with advice) unless ``message`` fits on its own."""
    needed = session.tokens_alone(message)
    if needed is None:  # a remote model: its server counts
        return
    engine = session.engine
    n_ctx = engine.n_ctx
    reserve = session.reply_reserve(sampling)
    if needed + reserve <= n_ctx:
        return
    advice = _advice(session, needed, n_ctx - reserve, documents, sampling)
    raise DocumentsTooLong(
        "document.too_long",
        needed=Count(needed),
        reserve=Count(reserve),
        n_ctx=Count(n_ctx),
        advice=advice,
    )


def _advice(
    session: ChatSession,
    needed: int,
    room: int,
    documents: Sequence[Document | StoredAttachment],
    sampling: SamplingOptions,
) -> Joined:
    engine = session.engine
    reserve = sampling.max_tokens or DEFAULT_REPLY_RESERVE
    wanted = math.ceil((needed + reserve) / CTX_STEP) * CTX_STEP
    trained = engine.model_file.context_length or wanted
    parts: list[Phrase] = []
    if wanted > trained:
        parts.append(Phrase("document.advice.beyond_model", n_ctx=Count(trained)))
    else:
        kv = _kv_that_fits(engine, wanted)
        if kv == "same":
            parts.append(Phrase("document.advice.ctx", n_ctx=wanted))
        elif kv == "q8_0":
            parts.append(Phrase("document.advice.ctx_q8", n_ctx=wanted))
        else:
            parts.append(Phrase("document.advice.no_ram", n_ctx=Count(wanted)))
    pdfs = [d for d in documents if d.kind == "pdf" and d.pages]
    if pdfs:
        largest = max(pdfs, key=lambda d: len(d.text))
        own = session.count_tokens(largest.text) or 0
        per_page = own / largest.pages if largest.pages else own
        fits = int((room - (needed - own)) // per_page) if per_page else 0
        if fits >= 1:
            pages = "1" if fits == 1 else f"1-{fits}"
            parts.append(Phrase("document.advice.pages", pages=pages, name=largest.name))
    if len(parts) == 1 and parts[0].key != "document.advice.ctx":
        parts.append(Phrase("document.advice.split"))
    return Joined("document.advice.or", parts)


def _kv_that_fits(engine, n_ctx: int) -> str | None:
    """ "same" if the model at ``n_ctx`` fits this machine with its KV type, "q8_0" if
    only at half the KV memory, None if not even then. What the loaded model holds now
    counts as available: it is freed before a new run loads it again."""
    from amalia_local.engine import current_machine
    from amalia_local.fit import model_facts, ram_needed
    from amalia_local.kv_type import KvType

    facts = model_facts(engine.model_file)
    options = engine.options
    machine = current_machine()
    if options.n_gpu_layers and machine.gpu_offload and not machine.unified_memory:
        available = machine.available_ram + (machine.vram_free or 0)
    else:
        available = machine.available_ram
    available += ram_needed(facts, options.n_ctx, options.kv_type)
    if ram_needed(facts, n_ctx, options.kv_type) <= available:
        return "same"
    if options.kv_type != KvType.Q8_0 and ram_needed(facts, n_ctx, KvType.Q8_0) <= available:
        return "q8_0"
    return None
