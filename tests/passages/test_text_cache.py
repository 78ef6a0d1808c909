"""Extracted text is kept by the file's hash: a second process asking about the same PDF
does not extract it again (pypdf is not even imported), a changed file is extracted
and indexed anew, and what comes from the cache is the document extraction gave."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from document_files import write_pdf
from legal_documents import pages_of, regulation

from amalia_local.documents import read_document
from amalia_local.documents.text_cache import entry_path

# Another process: reads the file as `run --file` does, then builds or opens its index.
CHILD = """
import json, sys
from pathlib import Path
from amalia_local.services.documents import read_documents
from amalia_local.passages.index import PassageIndex
cache = Path(sys.argv[2])
(document,) = read_documents([sys.argv[1]], cache_dir=cache)
built = []
with PassageIndex.open(document, cache, lambda n: built.append(n)) as index:
    passages = len(index)
print(json.dumps({"extracted": "pypdf" in sys.modules, "indexed": bool(built),
                  "sha256": document.sha256, "passages": passages}))
"""


def child(pdf: Path, cache: Path) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(pdf), str(cache)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)


def test_a_second_process_neither_extracts_nor_indexes_again(tmp_path: Path) -> None:
    pdf = write_pdf(tmp_path / "regulamento.pdf", pages_of(regulation(300)))
    cache = tmp_path / "cache"
    first = child(pdf, cache)
    assert first["extracted"] and first["indexed"]
    second = child(pdf, cache)
    assert not second["extracted"] and not second["indexed"]
    assert second["passages"] == first["passages"]

    write_pdf(pdf, pages_of(regulation(40)))  # the same name, another content
    changed = child(pdf, cache)
    assert changed["extracted"] and changed["indexed"]
    assert changed["sha256"] != first["sha256"] and changed["passages"] < first["passages"]


def test_the_kept_text_is_the_extracted_document(tmp_path: Path) -> None:
    pdf = write_pdf(tmp_path / "a.pdf", pages_of(regulation(60)))
    extracted = read_document(pdf)
    cache = tmp_path / "cache"
    read_document(pdf, cache_dir=cache)
    kept = read_document(pdf, name="pasta/a.pdf", cache_dir=cache)
    assert kept.name == "pasta/a.pdf"
    assert (kept.text, kept.sha256, kept.pages, kept.page_starts) == (
        extracted.text,
        extracted.sha256,
        extracted.pages,
        extracted.page_starts,
    )
    # The pages chosen are part of the key: other pages, another entry.
    part = read_document(pdf, "2-3", cache_dir=cache)
    assert part.pages == 2 and part.text != kept.text
    assert read_document(pdf, "2-3", cache_dir=cache).text == part.text
    # A damaged entry is extracted again, not trusted.
    entry = entry_path(cache, extracted.sha256, None)
    entry.write_text("{not json", encoding="utf-8")
    assert read_document(pdf, cache_dir=cache).text == extracted.text
