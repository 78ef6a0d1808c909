"""Child process for the SIGKILL test: the real app, headless, answering at length.

Prints ``STREAMING`` once at least two periodic saves have happened, then keeps
generating until the parent kills it with SIGKILL.

    python kill_child.py MODEL AMALIA_HOME
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from tui_helpers import SIZE, ask, wait_ready, wait_until

from amalia_local.config import Config
from amalia_local.i18n import Translator
from amalia_local.locations import Locations
from amalia_local.runtime import Runtime
from amalia_local.tui.app import AmaliaApp, LoadOverrides
from amalia_local.tui.widgets.messages import AnswerMessage


async def main(model: str, home: str) -> None:
    runtime = Runtime(
        locations=Locations.resolve({"AMALIA_HOME": home}), translator=Translator("en")
    )
    config = Config(
        temperature=0.0,
        threads=1,
        system_prompt="You are a helpful AI assistant.",
    )
    app = AmaliaApp(runtime, config, model, LoadOverrides(n_ctx=2048))
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(app)
        await ask(pilot, "Write a very long story about a dragon who lives in Lisbon.")
        await wait_until(lambda: bool(app.screen.query(AnswerMessage).last().source))
        await asyncio.sleep(1.2)
        # Past Textual's capture of sys.stdout, which the parent never sees flushed when
        # Python's output is buffered (no PYTHONUNBUFFERED, as on a user's machine).
        sys.__stdout__.write(f"STREAMING {len(app.screen.query(AnswerMessage).last().source)}\n")
        sys.__stdout__.flush()
        time.sleep(600)  # blocks the loop; generation goes on in its thread


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
