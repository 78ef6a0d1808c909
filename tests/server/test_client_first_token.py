"""``amalia run --endpoint``: nothing but the question stands before the first token.

The client mode is judged by its time to first token from the process's start (issue
18: within 50 ms of the server's own), so before that token it must not import a third-party
HTTP library (the standard library's http.client, which the request needs, is imported when
it is sent: issue 26), the database or the fit rules, nor open the conversations' database. The
conversation is still saved, from the first token on. Timings live in
tests/benchmarks/bench_startup.py; here the order of events is checked, which a loaded
machine cannot make flaky: the server holds the rest of the answer until the test has
looked at the disk.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

from scripted_server import Handler, event, scripted_server, send_chunk, send_head, send_json
from user_process import user_cwd

from amalia_local.conversations import ConversationStore

# The CLI as `amalia` runs it; at the first write to stdout it notes which of these
# modules are loaded, and says so on stderr when it ends.
PROBE = """
import sys
WATCHED = ("httpx2", "httpcore2", "sqlite3", "llama_cpp",
           "amalia_local.conversations", "amalia_local.fit", "amalia_local.documents.read")
real = sys.stdout
seen = []

class FirstWrite:
    def write(self, text):
        if text and not seen:
            seen.append([m for m in WATCHED if m in sys.modules])
        return real.write(text)

    def __getattr__(self, name):
        return getattr(real, name)

sys.stdout = FirstWrite()
from amalia_local.cli import main
code = main(sys.argv[1:])
sys.stdout.flush()
print("LOADED AT FIRST TOKEN " + " ".join(seen[0] if seen else ["(nothing written)"]),
      file=sys.stderr)
sys.exit(code)
"""


STREAM = {"Content-Type": "text/event-stream", "Transfer-Encoding": "chunked"}


class HeldAnswer:
    """A server whose answer stops after its first words until ``release`` is set."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.chats: list[dict] = []

    def __call__(self, handler: Handler) -> None:
        if handler.path.endswith("/models"):
            send_json(handler, 200, {"object": "list", "data": [{"id": "amalia-9b"}]})
            return
        self.chats.append(handler.body)
        send_head(
            handler, 200, {"Content-Type": "text/event-stream", "Transfer-Encoding": "chunked"}
        )
        send_chunk(handler, event("Lisboa"))
        self.release.wait(60)
        send_chunk(handler, event(", claro.") + event(finish="stop") + b"data: [DONE]\n\n")
        send_chunk(handler, b"")


def _start(cli_env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", PROBE, *args],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=cli_env, cwd=user_cwd(cli_env),
    )  # fmt: skip


def test_the_first_token_comes_before_the_database_and_is_saved_after(cli_env):
    database = Path(cli_env["AMALIA_HOME"]) / "data" / "conversations.db"
    server_script = HeldAnswer()
    with scripted_server(server_script) as server:
        process = _start(cli_env, "run", "--endpoint", server.url, "Qual é a capital?")
        try:
            assert process.stdout is not None
            first = process.stdout.read(len(b"Lisboa"))
            on_disk_at_first_token = database.exists()
        finally:
            server_script.release.set()
        out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err.decode()
    assert first + out == b"Lisboa, claro.\n"
    assert not on_disk_at_first_token
    loaded = err.decode().strip().splitlines()[-1]
    assert loaded == "LOADED AT FIRST TOKEN", loaded  # none of the watched modules

    store = ConversationStore.in_dir(database.parent)
    try:
        [summary] = store.list()
        saved = store.get(summary.id)
    finally:
        store.close()
    assert saved is not None and saved.model == "amalia-9b"
    assert [(m.role, m.content, m.complete) for m in saved.messages] == [
        ("user", "Qual é a capital?", True),
        ("assistant", "Lisboa, claro.", True),
    ]


def test_continue_reads_the_saved_conversation_before_asking(cli_env):
    server_script = HeldAnswer()
    server_script.release.set()
    with scripted_server(server_script) as server:
        first = _start(cli_env, "run", "--endpoint", server.url, "Qual é a capital?")
        assert first.communicate(timeout=60)[0] == b"Lisboa, claro.\n"
        second = _start(cli_env, "run", "--endpoint", server.url, "--continue", "E de Espanha?")
        out, err = second.communicate(timeout=60)
    assert second.returncode == 0, err.decode()
    assert out == b"Lisboa, claro.\n"
    # --continue needs the history first, so the database is read before asking.
    assert "amalia_local.conversations" in err.decode().splitlines()[-1]
    assert [m["content"] for m in server_script.chats[1]["messages"][-3:]] == [
        "Qual é a capital?",
        "Lisboa, claro.",
        "E de Espanha?",
    ]


def test_an_answer_that_fails_before_any_text_saves_nothing(cli_env):
    def refuses(handler: Handler) -> None:
        if handler.path.endswith("/models"):
            send_json(handler, 200, {"data": [{"id": "amalia-9b"}]})
        else:
            send_json(handler, 503, {"error": {"message": "all slots are busy"}})

    with scripted_server(refuses) as server:
        result = _start(cli_env, "run", "--endpoint", server.url, "Olá")
        out, err = result.communicate(timeout=60)
    lines = err.decode().strip().splitlines()
    assert result.returncode == 1
    assert out == b""
    assert lines[0].startswith("amalia: the server at") and "all slots are busy" in lines[0]
    assert len(lines) == 2  # the error, then the probe's own line
    assert not (Path(cli_env["AMALIA_HOME"]) / "data" / "conversations.db").exists()


def test_json_output_names_the_conversation_saved_after_the_answer(cli_env):
    server_script = HeldAnswer()
    server_script.release.set()
    with scripted_server(server_script) as server:
        process = _start(cli_env, "run", "--endpoint", server.url, "Olá", "--json")
        out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err.decode()
    payload = json.loads(out)
    assert payload["text"] == "Lisboa, claro."
    assert payload["conversation_id"] == 1
