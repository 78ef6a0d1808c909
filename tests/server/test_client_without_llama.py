"""The client mode (``run`` and ``chat`` with ``--endpoint``) never loads libllama.

A desk that talks to a shared server has no model file and may not even have a working
llama.cpp build; loading it would cost start-up time for nothing. The server here is a
real ``amalia serve`` on the generated tiny model; each client runs in a fresh
interpreter that reports, after answering, whether ``llama_cpp`` was imported.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from server_helpers import Server, serve_env, start_server, stop_server
from tiny_gguf import ANSWER_TEXT

ROOT = Path(__file__).resolve().parents[2]

RUN_PROBE = """
import sys
from amalia_local.cli import main
code = main(sys.argv[1:])
sys.stdout.flush()
print("LLAMA " + ("LOADED" if "llama_cpp" in sys.modules else "NOT LOADED"), file=sys.stderr)
sys.exit(code)
"""

# The chat as `amalia chat --endpoint URL` opens it, driven headless: ask, read the answer.
CHAT_PROBE = """
import asyncio, sys
sys.path.insert(0, sys.argv[3])
from tui_helpers import SIZE, ask, wait_answer, wait_until
from amalia_local.config import Config
from amalia_local.i18n import Translator
from amalia_local.locations import Locations
from amalia_local.remote.spec import EndpointSpec
from amalia_local.runtime import Runtime
from amalia_local.tui.app import AmaliaApp
from amalia_local.tui.widgets.messages import AnswerMessage

async def main(url, home):
    runtime = Runtime(locations=Locations.resolve({"AMALIA_HOME": home}),
                      translator=Translator("en"))
    app = AmaliaApp(runtime, Config(temperature=0.0), endpoint=EndpointSpec(url))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(lambda: app.chat_model() is not None, 60)
        await ask(pilot, "Olá")
        await wait_until(lambda: bool(app.screen.query(AnswerMessage)), 60)
        await wait_answer(app, 60)
        print("ANSWER " + app.screen.query(AnswerMessage).last().source)
    print("LLAMA " + ("LOADED" if "llama_cpp" in sys.modules else "NOT LOADED"))

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


@pytest.fixture(scope="module")
def tiny_server(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("serve-tiny")
    server = start_server(
        [str(tiny_model), "--port", "0", "--parallel", "1", "--ctx", "256"],
        serve_env(home),
        home / "stderr.log",
    )
    yield server
    stop_server(server)


def test_run_with_an_endpoint_answers_without_loading_llama(tiny_server, tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", RUN_PROBE, "run", "--endpoint", tiny_server.url, "Olá",
         "--temperature", "0", "--no-save"],
        capture_output=True, text=True, encoding="utf-8", timeout=120,
        env=serve_env(tmp_path / "desk"), cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout == ANSWER_TEXT + "\n"
    assert result.stderr.strip().splitlines()[-1] == "LLAMA NOT LOADED"


def test_chat_with_an_endpoint_answers_without_loading_llama(tiny_server, tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", CHAT_PROBE, tiny_server.url, str(tmp_path / "desk"),
         str(ROOT / "tests" / "tui")],
        capture_output=True, text=True, encoding="utf-8", timeout=180,
        env=serve_env(tmp_path / "desk"), cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[-2] == "ANSWER " + ANSWER_TEXT, result.stdout
    assert lines[-1] == "LLAMA NOT LOADED"
