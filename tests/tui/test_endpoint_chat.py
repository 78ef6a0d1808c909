"""Client mode against a server nobody here wrote: llama-cpp-python's own server.

``python -m llama_cpp.server`` (the ``server`` extra, test-only) serves SmolLM2 on
127.0.0.1; ``amalia run --endpoint`` and the chat (driven with Pilot) talk to it with
no model file on their side.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from tui_helpers import SIZE, ask, wait_answer, wait_until

from amalia_local.config import Config
from amalia_local.i18n import Translator
from amalia_local.locations import Locations
from amalia_local.remote.spec import EndpointSpec
from amalia_local.runtime import Runtime
from amalia_local.tui.app import AmaliaApp
from amalia_local.tui.widgets.messages import AnswerMessage

pytestmark = pytest.mark.smollm

SYSTEM = "You are a helpful AI assistant."


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def foreign_server(smollm: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    with open(log, "w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(smollm),
             "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048",
             "--n_threads", "2", "--model_alias", "smollm2"],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        try:
            with urllib.request.urlopen(url + "/v1/models", timeout=5) as response:
                json.load(response)
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise AssertionError(log.read_text()) from None
            time.sleep(0.5)
    yield url
    process.terminate()
    process.wait(timeout=30)


def test_run_with_endpoint_answers(amalia, foreign_server):
    result = amalia(
        "run", "--endpoint", foreign_server, "What is the capital of France?",
        "--system", SYSTEM, "--temperature", "0", "--max-tokens", "40", "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert "Paris" in payload["text"]
    assert payload["model"] == "smollm2"
    assert payload["settings"] == {"endpoint": foreign_server}


def test_run_with_unknown_model_or_no_server_is_one_line(amalia, foreign_server):
    result = amalia("run", "--endpoint", foreign_server, "--model", "gpt-4", "Hi")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "smollm2" in result.stderr
    result = amalia("run", "--endpoint", f"http://127.0.0.1:{_free_port()}", "Hi")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "cannot reach the server" in result.stderr


async def test_chat_streams_from_the_endpoint(foreign_server, tmp_path: Path):
    locations = Locations.resolve({"AMALIA_HOME": str(tmp_path / "home")})
    runtime = Runtime(locations=locations, translator=Translator("en"))
    config = replace(
        Config.load(locations.config_dir), temperature=0.0, system_prompt=SYSTEM, max_tokens=200
    )
    app = AmaliaApp(runtime, config, endpoint=EndpointSpec(foreign_server))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(lambda: app.model is not None, timeout=30)
        assert app.model.location == foreign_server  # nothing loaded here

        await ask(pilot, "What is the capital of France?")
        await wait_answer(app, timeout=120)
        answer = app.screen.query(AnswerMessage).last().source
        assert "Paris" in answer
        stored = app.store.get(app.chat_screen().conversation_id)
        assert stored.model == "smollm2"
        assert stored.messages[-1].content == answer

        # Esc closes the stream; the partial answer is kept as a stopped one.
        await ask(pilot, "Write a very long story about a dragon who lives in Lisbon.")
        await wait_until(lambda: len(app.screen.query(AnswerMessage).last().source) > 20, 120)
        await pilot.press("escape")
        await wait_answer(app, timeout=10)
        saved = app.store.get(app.chat_screen().conversation_id).messages[-1]
        assert saved.stop_reason == "cancelled"
        assert len(saved.content) > 20


async def test_server_model_status_is_said_like_a_local_one(foreign_server, tmp_path: Path):
    """One ChatModel in the app: the server's model gets the same status line and
    settings text as a local one, numbers in the interface language included."""
    locations = Locations.resolve({"AMALIA_HOME": str(tmp_path / "home")})
    runtime = Runtime(locations=locations, translator=Translator("pt"))
    config = replace(
        Config.load(locations.config_dir), temperature=0.0, system_prompt=SYSTEM, max_tokens=30
    )
    app = AmaliaApp(runtime, config, endpoint=EndpointSpec(foreign_server))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(lambda: app.model is not None, timeout=30)
        await ask(pilot, "What is the capital of France?")
        await wait_answer(app, timeout=120)
        status = str(app.screen.query_one("#status").render())
        assert status.startswith(f"smollm2 · servidor {foreign_server} · ")
        assert re.search(r" · \d+,\d tokens/s", status), status  # 12,3 in Portuguese
        assert app.model_description() == f"smollm2 — servidor {foreign_server}"
