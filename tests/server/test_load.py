"""Eight streaming clients at once: everything is answered, and batching changes nothing."""

from __future__ import annotations

import json
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

import openai
import pytest
from server_helpers import KEY, SYSTEM, post, wait_for

pytestmark = pytest.mark.smollm

QUESTIONS = [
    "What is the capital of France?",
    "What is the capital of Portugal?",
    "Name three colours.",
    "What is 2 + 2?",
    "Write one sentence about the sea.",
    "Who wrote Romeo and Juliet?",
    "What do bees make?",
    "Name a large animal.",
    "What is the boiling point of water?",
    "Say hello in Spanish.",
    "What is the opposite of hot?",
    "Name a planet.",
]
CLIENTS = 8
REQUESTS = 48


def ask(client: openai.OpenAI, model: str, question: str) -> str:
    stream = client.chat.completions.create(
        model=model,
        messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}],
        temperature=0,
        max_tokens=32,
        stream=True,
    )
    return "".join(c.choices[0].delta.content or "" for c in stream if c.choices)


def test_eight_streaming_clients_match_one_at_a_time(smollm_server):
    client = openai.OpenAI(base_url=smollm_server.url, api_key=KEY, max_retries=0)
    model = client.models.list().data[0].id
    alone = {q: ask(client, model, q) for q in QUESTIONS}
    assert all(alone.values())

    seen_busy: list[int] = []
    jobs = [QUESTIONS[i % len(QUESTIONS)] for i in range(REQUESTS)]
    with ThreadPoolExecutor(CLIENTS) as pool:
        futures = [pool.submit(ask, client, model, q) for q in jobs]
        while not all(f.done() for f in futures):
            seen_busy.append(smollm_server.health()["slots_processing"])
            time.sleep(0.05)
        answers = [f.result() for f in futures]
    assert max(seen_busy) > 1, "requests were never decoded together"
    assert all(answers)
    mismatched = [(q, a, alone[q]) for q, a in zip(jobs, answers, strict=True) if a != alone[q]]
    assert not mismatched
    assert smollm_server.health()["slots_processing"] == 0


def _open_stream(url: str, body: dict) -> socket.socket:
    """A raw HTTP request whose socket the test can drop, as a killed client does."""
    parts = urlparse(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=300)
    data = json.dumps(body).encode()
    head = (
        f"POST {parts.path}/completions HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
        f"Authorization: Bearer {KEY}\r\n\r\n"
    )
    sock.sendall(head.encode() + data)
    return sock


def _kill_mid_stream(server, model: str, max_tokens: int) -> int:
    """Start counting forever, drop the connection after a few tokens; tokens before."""
    before = server.health()["tokens_generated"]
    body = {
        "model": model,
        "prompt": "1\n2\n3\n4\n5\n6\n",
        "temperature": 0,
        "max_tokens": max_tokens,
        "stream": True,
    }
    sock = _open_stream(server.url, body)
    received = b""
    while received.count(b"data:") < 5:
        received += sock.recv(4096)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    sock.close()  # reset, as when the client process is killed
    return before


def test_client_killed_mid_stream_frees_its_sequence(smollm_server, smollm):
    before = _kill_mid_stream(smollm_server, smollm.stem, 900)
    assert wait_for(lambda: smollm_server.health()["slots_processing"] == 0, timeout=120)
    # It left the batch early: the counting would have gone on for all 900 tokens.
    assert smollm_server.health()["tokens_generated"] - before < 300


def test_disconnect_frees_the_only_slot_for_the_next_request(one_slot_server, smollm):
    before = _kill_mid_stream(one_slot_server, smollm.stem, 1500)
    status, _, reply = post(
        one_slot_server.url + "/completions",
        json.dumps({"model": smollm.stem, "prompt": "Hello", "max_tokens": 4}).encode(),
        {"Content-Type": "application/json"},
    )
    assert status == 200, reply
    assert reply["usage"]["completion_tokens"] == 4
    # Served once the dropped request had left, not after its 1500 tokens.
    assert one_slot_server.health()["tokens_generated"] - before < 300
