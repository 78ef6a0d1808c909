"""What a server pays once, it pays at start-up, not in the first request.

The thread pool (which parses bodies and submits requests) imports its machinery on first
use, on the event loop: about 50 ms in which /health and every stream wait. The probe runs
the app's lifespan in a fresh interpreter and reports whether that import happened there.
"""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import asyncio, sys
from amalia_local.server.app import ServerOptions, build_app

app = build_app(object(), ServerOptions())  # no request reaches the host here
before = "anyio._backends._asyncio" in sys.modules

async def start():
    async with app.router.lifespan_context(app):
        print(before, "anyio._backends._asyncio" in sys.modules)

asyncio.run(start())
"""


def test_the_thread_pool_is_ready_before_the_first_request(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True, text=True, timeout=60, check=True, cwd=tmp_path,
    )  # fmt: skip
    assert done.stdout.split() == ["False", "True"]
