"""What the chat's handler hands the chat: the flags as typed, --lang as a fact."""

from __future__ import annotations

import pytest

import amalia_local.tui.run as tui_run
from amalia_local.cli import main


@pytest.fixture
def requests(tmp_path, monkeypatch):
    monkeypatch.setenv("AMALIA_HOME", str(tmp_path))
    seen = []

    def run_chat(request, runtime):
        seen.append(request)
        return 0

    monkeypatch.setattr(tui_run, "run_chat", run_chat)
    return seen


@pytest.mark.parametrize(
    ("argv", "forced"),
    [
        (["chat", "/m.gguf"], False),
        (["--lang", "pt", "chat", "/m.gguf"], True),
        (["chat", "/m.gguf", "--lang=en"], True),
    ],
)
def test_lang_on_the_command_line_beats_the_settings(requests, argv, forced):
    assert main(argv) == 0
    assert requests[-1].language_forced is forced
    assert requests[-1].model == "/m.gguf"


def test_chat_flags_reach_the_request(requests):
    argv = ["chat", "--ctx", "512", "--threads", "2", "--endpoint", "http://h:1/v1", "--offline"]
    assert main([*argv, "--model", "m", "--api-key", "k"]) == 0
    request = requests[-1]
    assert (request.model, request.n_ctx, request.n_threads, request.offline) == (
        None,
        512,
        2,
        True,
    )
    assert (request.endpoint.url, request.endpoint.model, request.endpoint.api_key) == (
        "http://h:1/v1",
        "m",
        "k",
    )
