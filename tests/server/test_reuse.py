"""No history evaluated twice: each turn of a conversation evaluates only its new tokens.

Checked by the API's ``usage.prompt_tokens_details.cached_tokens``, llama-server's
``timings.prompt_n`` (what this answer evaluated) and the server's own count on /health.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from server_helpers import Server, serving, wait_for

from amalia_local.engine.large_buffers import LARGE

pytestmark = pytest.mark.smollm

SYSTEM = "You are a helpful assistant. " + " ".join(
    f"Rule {i}: answer briefly and politely, in plain words." for i in range(30)
)
TURNS = {
    "a": ["What is the capital of France?", "And of Spain?", "And of Portugal?"],
    "b": ["Name a colour.", "Name another one.", "And a third one?"],
}


@pytest.fixture(scope="module")
def server(smollm: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    args = [str(smollm), "--port", "0", "--parallel", "2", "--ctx", "2048", "--threads", "2"]
    with serving(tmp_path_factory.mktemp("serve-reuse"), [*args, "--idle-unload", "0.1"]) as s:
        yield s


class Conversation:
    def __init__(self, client: openai.OpenAI, model: str, questions: list[str]) -> None:
        self.client = client
        self.model = model
        self.questions = list(questions)
        self.messages: list[dict] = [{"role": "system", "content": SYSTEM}]
        self.turns: list[dict] = []

    def turn(self, server: Server) -> dict:
        self.messages.append({"role": "user", "content": self.questions.pop(0)})
        evaluated_before = server.health()["prompt_tokens_evaluated"]
        reply = self.client.chat.completions.create(
            model=self.model, messages=self.messages, temperature=0, max_tokens=40
        )
        answer = reply.choices[0].message.content
        self.messages.append({"role": "assistant", "content": answer})
        usage = reply.usage
        figures = {
            "prompt": usage.prompt_tokens,
            "completion": usage.completion_tokens,
            "cached": usage.prompt_tokens_details.cached_tokens,
            "evaluated": reply.model_extra["timings"]["prompt_n"],
            "server_evaluated": server.health()["prompt_tokens_evaluated"] - evaluated_before,
            "finish": reply.choices[0].finish_reason,
        }
        self.turns.append(figures)
        return figures


def client_for(server: Server) -> tuple[openai.OpenAI, str]:
    client = openai.OpenAI(base_url=server.url, api_key="none", max_retries=0)
    return client, client.models.list().data[0].id


def assert_only_new_tokens(previous: dict, current: dict) -> None:
    """The previous turn's whole prompt (and its answer, when it ended on its own) came
    from the cache; only the rest was evaluated."""
    history = previous["prompt"] + (previous["completion"] if previous["finish"] == "stop" else 0)
    assert current["cached"] >= history, (previous, current)
    assert current["evaluated"] == current["prompt"] - current["cached"]
    assert current["server_evaluated"] == current["evaluated"]


def test_three_turns_evaluate_only_their_new_tokens(server):
    client, model = client_for(server)
    talk = Conversation(client, model, TURNS["a"])
    first = talk.turn(server)
    assert first["evaluated"] > 300  # the long system prompt, evaluated once
    for _ in range(2):
        assert_only_new_tokens(talk.turns[-1], talk.turn(server))
        assert talk.turns[-1]["evaluated"] < 100


def test_two_interleaved_conversations_keep_their_prefixes(server):
    client, model = client_for(server)
    first = Conversation(client, model, ["Say one word.", *TURNS["a"][1:]])
    second = Conversation(client, model, TURNS["b"])
    for _ in range(3):
        first.turn(server)
        second.turn(server)
    for talk in (first, second):
        for previous, current in zip(talk.turns, talk.turns[1:], strict=False):
            assert_only_new_tokens(previous, current)


def test_history_comes_back_from_disk_after_an_idle_unload(server):
    client, model = client_for(server)
    talk = Conversation(client, model, ["Tell me about Lisbon.", "And about Porto?"])
    talk.turn(server)
    assert wait_for(lambda: not server.health()["loaded"], timeout=60)
    current = talk.turn(server)  # the model is loaded again, with empty cells
    assert_only_new_tokens(talk.turns[0], current)


@pytest.fixture(scope="module")
def large_server(smollm: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One sequence of 16k cells: a KV cache over 128 MiB, which the unload releases in
    slices before freeing it (engine/large_buffers.py)."""
    args = [str(smollm), "--port", "0", "--parallel", "1", "--ctx", "16384", "--threads", "2"]
    with serving(tmp_path_factory.mktemp("serve-large"), [*args, "--idle-unload", "0.1"]) as s:
        yield s


def largest_anonymous_mapping(pid: int) -> int:
    sizes = [0]
    with open(f"/proc/{pid}/maps") as maps:
        for line in maps:
            fields = line.split()
            if len(fields) == 5 and fields[1] == "rw-p":
                start, end = (int(x, 16) for x in fields[0].split("-"))
                sizes.append(end - start)
    return max(sizes)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_state_saved_at_unload_is_the_cells_not_the_released_pages(large_server):
    """The unload saves the states, then releases the pages, then frees them: in the other
    order the saved state would be zeroes, and a question only the history answers could
    not be answered after reloading."""
    client, model = client_for(large_server)

    def answer(messages: list[dict]) -> tuple[str, int]:
        reply = client.chat.completions.create(
            model=model, messages=messages, temperature=0, max_tokens=12
        )
        return reply.choices[0].message.content, reply.usage.prompt_tokens_details.cached_tokens

    history = [
        {"role": "system", "content": SYSTEM},  # long enough to be worth restoring
        {"role": "user", "content": "The secret word is pomegranate. Just reply OK."},
    ]
    first, _ = answer(history)
    history += [
        {"role": "assistant", "content": first},
        {"role": "user", "content": "What is the secret word?"},
    ]
    live, _ = answer(history)  # the cells as they were computed
    assert "pomegranate" in live.lower()
    assert largest_anonymous_mapping(large_server.process.pid) >= LARGE
    answer(history[:2])  # the cells hold turn one again, then are saved
    assert wait_for(lambda: not large_server.health()["loaded"], timeout=60)
    restored, cached = answer(history)  # the cells as saved, read back from disk
    assert cached >= 300
    assert "pomegranate" in restored.lower()
