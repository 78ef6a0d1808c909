"""No history evaluated twice: each turn of a conversation evaluates only its new tokens.

Checked by the API's ``usage.prompt_tokens_details.cached_tokens``, llama-server's
``timings.prompt_n`` (what this answer evaluated) and the server's own count on /health.
"""

from __future__ import annotations

import sys
import time
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


# --- a prefix another slot holds is copied, not read again (issue 29) -------------------------
# The case: a ~2,000-token conversation in one slot, then the same conversation
# with its last message edited ("… texto" -> "… texto 0").
DOCUMENT = " ".join(
    f"Nota {i}: o antigo {place} do bairro {i * 7 % 31} foi reconstruído em {1700 + i * 3}."
    for i, place in enumerate(["mercado", "cais", "jardim", "elétrico", "farol"] * 13)
)
EDIT_CTX = "2560"


def document_conversation(last: str) -> list[dict]:
    return [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": DOCUMENT + "\n\nWhich district was rebuilt first?"},
        {"role": "assistant", "content": "District 0: its market was rebuilt in 1700."},
        {"role": "user", "content": last},
    ]


ORIGINAL = document_conversation("Now list the notes about the lighthouse in the texto")
EDITED = document_conversation("Now list the notes about the lighthouse in the texto 0")


def ask_figures(client: openai.OpenAI, model: str, messages: list[dict], max_tokens: int) -> dict:
    reply = client.chat.completions.create(
        model=model, messages=messages, temperature=0, max_tokens=max_tokens
    )
    return {
        "answer": reply.choices[0].message.content,
        "prompt": reply.usage.prompt_tokens,
        "cached": reply.usage.prompt_tokens_details.cached_tokens,
        "evaluated": reply.model_extra["timings"]["prompt_n"],
    }


@pytest.fixture(scope="module")
def fresh_edited(smollm: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The edited conversation read from scratch, by a new server of two slots (the same
    attention as the server under test): the answer a copied prefix must give (greedy)."""
    args = [str(smollm), "--port", "0", "--parallel", "2", "--ctx", EDIT_CTX, "--threads", "2"]
    with serving(tmp_path_factory.mktemp("serve-fresh"), args) as s:
        figures = ask_figures(*client_for(s), EDITED, max_tokens=24)
    assert figures["cached"] == 0 and figures["prompt"] > 1900
    return figures


@pytest.fixture
def two_slots(smollm: Path, tmp_path: Path) -> Iterator[Server]:
    args = [str(smollm), "--port", "0", "--parallel", "2", "--ctx", EDIT_CTX, "--threads", "2"]
    with serving(tmp_path, args) as s:
        yield s


def test_an_edited_last_message_copies_the_prefix_another_slot_holds(two_slots, fresh_edited):
    client, model = client_for(two_slots)
    original = ask_figures(client, model, ORIGINAL, max_tokens=24)
    assert original["cached"] == 0
    time.sleep(1)
    evaluated_before = two_slots.health()["prompt_tokens_evaluated"]
    edited = ask_figures(client, model, EDITED, max_tokens=24)
    # Everything before the edit came from the other slot's cells: only the edited end
    # and the assistant header were evaluated.
    assert original["prompt"] - 10 <= edited["cached"] < edited["prompt"]
    assert edited["evaluated"] == edited["prompt"] - edited["cached"] <= 12
    assert two_slots.health()["prompt_tokens_evaluated"] - evaluated_before == edited["evaluated"]
    assert edited["answer"] == fresh_edited["answer"]
    # and the first conversation was not evicted for it: its next turn reads nothing again
    again = ask_figures(client, model, ORIGINAL, max_tokens=24)
    assert again["cached"] == original["prompt"] - 1  # the last token gives the logits
    assert again["answer"] == original["answer"]


def test_a_prefix_is_copied_from_a_slot_that_is_still_answering(two_slots, fresh_edited):
    """The source slot generates while its cells are copied: the copy takes the positions
    it had decoded, and neither answer changes."""
    client, model = client_for(two_slots)
    short = ask_figures(client, model, ORIGINAL, max_tokens=24)
    answering = client.chat.completions.create(
        model=model, messages=ORIGINAL, temperature=0, max_tokens=400, stream=True
    )
    parts: list[str] = []
    for chunk in answering:  # the original answers again, from its own slot...
        if chunk.choices and chunk.choices[0].delta.content:
            parts.append(chunk.choices[0].delta.content)
            break
    assert two_slots.health()["slots_processing"] == 1
    edited = ask_figures(client, model, EDITED, max_tokens=24)  # ...while this is copied
    assert two_slots.health()["slots_processing"] == 1, "the source had stopped answering"
    for chunk in answering:
        if chunk.choices and chunk.choices[0].delta.content:
            parts.append(chunk.choices[0].delta.content)
    assert short["prompt"] - 10 <= edited["cached"] < edited["prompt"]
    assert edited["answer"] == fresh_edited["answer"]
    assert "".join(parts).startswith(short["answer"])
