"""Loggers are named by their module (``logging.getLogger(__name__)``), all under the
package's logger ``amalia_local``, and their warnings still reach standard error as one
bare line each, as when the server's three modules shared one hard-coded name."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import amalia_local.engine.batch as batch
import amalia_local.server.app as app
import amalia_local.server.protocol as protocol

for module in (batch, app, protocol):
    assert module.log.name == module.__name__, module.log.name
protocol.log.warning("connection refused: %d connections are open", 3)
batch.log.info("not shown: below warning")
"""


def test_loggers_are_named_by_module_and_warnings_reach_stderr():
    result = subprocess.run(
        [sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == "connection refused: 3 connections are open\n"
    assert result.stdout == ""
