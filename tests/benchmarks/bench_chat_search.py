"""How long the chat's UI stops answering while a question about a big folder is read.

    AMALIA_TEST_SMOLLM=… python tests/benchmarks/bench_chat_search.py [--files 50]

The real chat app, headless, with SmolLM2-135M (its tokenizer counts the tokens) and a
4,096-token context. Two folders are attached, then a question is sent about them:
N PDFs of 6-8 pages (tests/legal_documents.py; each longer than half the context, so
indexed while attaching) and 3N short notes (each fits alone, so none is indexed before
the question, which then indexes them all). A 10 ms timer on the UI's event loop
records how late each tick comes: its worst lateness is how long a key press waits.
Each folder is measured twice, each time in a fresh home (a cold index cache): the
question read as the chat reads it now (ChatService.read in a worker) and as it did
before (the same call on the UI thread).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tui"))

from document_files import write_pdf
from fetch_smollm import ensure_smollm
from legal_documents import pages_of, regulation
from tui_helpers import SIZE, wait_ready, wait_until

from amalia_local.config import Config
from amalia_local.i18n import Translator
from amalia_local.locations import Locations
from amalia_local.runtime import Runtime
from amalia_local.tui.app import AmaliaApp, LoadOverrides
from amalia_local.tui.widgets.prompt import PromptInput

QUESTION = "Qual é a taxa das esplanadas?"  # each file holds that fact (Artigo 25.º)


class Lateness:
    """The worst delay of a 10 ms tick on the event loop, since the last reset."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._last = time.perf_counter()

    def tick(self) -> None:
        now = time.perf_counter()
        self.worst = max(self.worst, now - self._last - 0.01)
        self._last = now

    def reset(self) -> None:
        self.worst, self._last = 0.0, time.perf_counter()


async def measure(home: Path, folder: Path, model: Path, in_worker: bool) -> None:
    """Attach ``folder``, then read the question: in the chat's worker (as now) or on
    the UI thread (as before); each in a home of its own, so both find a cold cache."""
    locations = Locations.resolve({"AMALIA_HOME": str(home)})
    runtime = Runtime(locations=locations, translator=Translator("en"))
    config = replace(Config.load(locations.config_dir), temperature=0.0, threads=2, max_tokens=8)
    app = AmaliaApp(runtime, config, str(model), LoadOverrides(n_ctx=4096))
    async with app.run_test(size=SIZE):
        await wait_ready(app)
        chat = app.chat_screen()
        started = time.perf_counter()
        chat.read_attachment(folder)
        count = len([p for p in folder.iterdir() if p.is_file()])
        await wait_until(lambda: len(chat.attachment_bar.attached) == count, timeout=900)
        attach_s = time.perf_counter() - started
        indexed = len(list((home / "cache" / "passages").glob("*.sqlite")))
        documents = [a.document for a in chat.attachment_bar.attached]
        late = Lateness()
        app.set_interval(0.01, late.tick)
        await asyncio.sleep(0.3)
        late.reset()
        if in_worker:
            arrived: list[float] = []
            real_read = chat._read

            async def read(*args: object) -> None:
                arrived.append(time.perf_counter())  # the worker's result, on the UI thread
                await real_read(*args)  # type: ignore[arg-type]

            chat._read = read  # type: ignore[method-assign]
            started = time.perf_counter()
            chat.query_one(PromptInput).post_message(PromptInput.Submitted(QUESTION))
            await wait_until(lambda: bool(arrived), timeout=900)
            read_s, worst = arrived[0] - started, late.worst
            service = chat.service
            await wait_until(lambda: not chat.generating, timeout=600)
            how = "now, in a worker:       "
        else:
            service = chat._service()
            started = time.perf_counter()
            service.read(QUESTION, app.sampling(), documents)  # as _submitted did before
            read_s = time.perf_counter() - started
            await asyncio.sleep(0.05)
            worst = late.worst
            how = "before, on the UI thread:"
        assert (service is not None and service.excerpts is not None) or not in_worker
        print(f"  {how} attach {attach_s:.2f} s ({indexed} of {count} indexed then), question "
              f"read in {read_s:.2f} s, UI loop late by {worst * 1000:.0f} ms at most")  # fmt: skip


def main() -> None:
    files = int(sys.argv[sys.argv.index("--files") + 1]) if "--files" in sys.argv else 50
    model = ensure_smollm()
    with tempfile.TemporaryDirectory() as tmp:
        pdfs = Path(tmp) / "pdfs"
        pdfs.mkdir()
        for n in range(files):
            write_pdf(pdfs / f"ata-{n:02}.pdf", pages_of(regulation(28, seed=n)))
        # Short files: each fits alone (not indexed while attaching), all together do
        # not, so the question indexes them all.
        texts = Path(tmp) / "texts"
        texts.mkdir()
        for n in range(files * 3):
            # The last articles; one note in ten holds the fact (Artigo 25.º).
            lines = regulation(25 if n % 10 == 0 else 24, seed=n)[-12:]
            (texts / f"nota-{n:03}.txt").write_text("\n".join(lines), encoding="utf-8")
        for folder, what in (
            (pdfs, f"{files} PDFs of 6-8 pages"),
            (texts, f"{files * 3} short notes"),
        ):
            print(f"{what}:")
            for in_worker in (False, True):
                home = Path(tmp) / f"home-{folder.name}-{in_worker}"
                asyncio.run(measure(home, folder, model, in_worker))


if __name__ == "__main__":
    main()
