"""Passages of a long document: how long a 300-page PDF takes to read, split and index,
and how long a question's search takes once it is indexed.

    python tests/benchmarks/bench_passages.py [--articles 1300]

Prints one line per figure. The PDF is made here (tests/legal_documents.py: a municipal
regulation with a fact in every 25th article); the questions are people's phrasings of
those facts. Run it on the machine whose figures you quote (2 cores in the issue).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from document_files import write_pdf
from legal_documents import pages_of, regulation

from amalia_local.documents import read_document
from amalia_local.passages.index import PassageIndex

QUESTIONS = [
    "Qual é a taxa das esplanadas?",
    "prazos de reclamacao do indeferimento",
    "até quando me posso candidatar a uma casa da câmara?",
    "licenca de ocupacao da via publica",
    "a que horas abrem os mercados?",
    "obras no interior de casa precisam de licença?",
    "quanto custa uma sepultura perpétua?",
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", type=int, default=1300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        pages = pages_of(regulation(args.articles))
        pdf = write_pdf(folder / "regulamento.pdf", pages)
        started = time.perf_counter()
        document = read_document(pdf)
        read_s = time.perf_counter() - started
        started = time.perf_counter()
        index = PassageIndex.open(document, folder / "cache")
        index_s = time.perf_counter() - started
        started = time.perf_counter()
        again = PassageIndex.open(document, folder / "cache")
        reopen_s = time.perf_counter() - started
        again.close()
        times = []
        for _ in range(20):
            for question in QUESTIONS:
                started = time.perf_counter()
                index.search(question, 40)
                times.append(time.perf_counter() - started)
        print(f"pages: {len(pages)}, characters: {len(document.text):,}, passages: {len(index)}")
        print(f"PDF text extraction (pypdf): {read_s:.2f} s")
        print(f"split + stem + index: {index_s:.2f} s")
        print(f"open the cached index: {reopen_s * 1000:.1f} ms")
        print(
            f"search per question: median {statistics.median(times) * 1000:.2f} ms, "
            f"max {max(times) * 1000:.2f} ms ({len(times)} searches)"
        )
        index.close()


if __name__ == "__main__":
    main()
