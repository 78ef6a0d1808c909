"""Every bad input gets its status code and an OpenAI error object; the server goes on."""

from __future__ import annotations

import json
import socket
import threading
import time
from urllib.parse import urlparse

import pytest
from server_helpers import KEY, post, wait_for

pytestmark = pytest.mark.smollm

JSON = {"Content-Type": "application/json"}
AUTH = {**JSON, "Authorization": f"Bearer {KEY}"}


def chat(model: str, **extra) -> dict:
    return {
        "model": model,
        "messages": [{"role": "user", "content": "Hi"}],
        "max_tokens": 4,
        **extra,
    }


def assert_error(result, status: int, code: str | None = None, param: str | None = None):
    got_status, _, body = result
    assert got_status == status, body
    error = body["error"]
    assert error["message"] and error["type"]
    if code is not None:
        assert error["code"] == code
    if param is not None:
        assert error["param"] == param


def declared_too_big(url: str) -> tuple[int, dict, dict]:
    """A 5 MB body announced: refused from its headers, before a byte of it is read."""
    parts = urlparse(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(
            f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"Authorization: Bearer {KEY}\r\nContent-Type: application/json\r\n"
            "Content-Length: 5000000\r\n\r\n".encode()
        )
        response = b""
        while b"\r\n\r\n" not in response or not response.rstrip().endswith(b"}"):
            chunk = sock.recv(4096)
            if not chunk:
                break
            response += chunk
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split()[1]), {}, json.loads(body)


def test_bad_requests_get_status_and_error_object(smollm_server, smollm):
    url = smollm_server.url + "/chat/completions"
    model = smollm.stem
    good = json.dumps(chat(model)).encode()
    assert_error(post(url, good, JSON), 401, "invalid_api_key")
    assert_error(post(url, good, {**JSON, "Authorization": "Bearer wrong"}), 401)
    assert_error(post(url, b'{"model": "x", "messages": [', AUTH), 400)
    assert_error(post(url, b"[1, 2]", AUTH), 400)
    assert_error(post(url, b"\xff\xfe", AUTH), 400)
    assert_error(post(url, json.dumps({"model": model}).encode(), AUTH), 400, param="messages")
    bad_type = chat(model, temperature="hot")
    assert_error(post(url, json.dumps(bad_type).encode(), AUTH), 400, param="temperature")
    unknown = chat(model, frobnicate=True)
    assert_error(post(url, json.dumps(unknown).encode(), AUTH), 400, param="frobnicate")
    assert_error(post(url, json.dumps(chat(model, n=3)).encode(), AUTH), 400, param="n")
    bad_role = {"model": model, "messages": [{"role": "robot", "content": "Hi"}]}
    assert_error(post(url, json.dumps(bad_role).encode(), AUTH), 400)
    assert_error(post(url, json.dumps(chat("gpt-4")).encode(), AUTH), 404, "model_not_found")
    huge = {"model": model, "messages": [{"role": "user", "content": "word " * 3000}]}
    assert_error(post(url, json.dumps(huge).encode(), AUTH), 400, "context_length_exceeded")
    assert_error(declared_too_big(url), 413, "too_large")
    schema = chat(
        model,
        response_format={
            "type": "json_schema",
            "json_schema": {"schema": {"$ref": "https://example.com/s.json"}},
        },
    )
    assert_error(post(url, json.dumps(schema).encode(), AUTH), 400)
    assert_error(post(smollm_server.root + "/v1/nothing", good, AUTH), 404)

    status, _, reply = post(url, good, AUTH)  # still serving
    assert status == 200 and reply["choices"][0]["message"]["content"]
    assert "Traceback" not in smollm_server.stderr()


def test_full_queue_gets_503_with_retry_after(one_slot_server, smollm):
    url = one_slot_server.url + "/chat/completions"
    # long enough to still be running when the third request comes on a loaded machine
    long = chat(smollm.stem, max_tokens=800, temperature=0)
    long["messages"] = [{"role": "user", "content": "Count from 1 to 1000."}]
    results: list[tuple[int, dict, dict]] = []

    def occupy():
        results.append(post(url, json.dumps(long).encode(), JSON))

    threads = [threading.Thread(target=occupy) for _ in range(2)]
    threads[0].start()
    assert wait_for(lambda: one_slot_server.health()["slots_processing"] == 1, timeout=30)
    threads[1].start()
    assert wait_for(lambda: one_slot_server.health()["requests_waiting"] == 1, timeout=10)
    status, headers, body = post(url, json.dumps(chat(smollm.stem)).encode(), JSON)
    assert status == 503, body
    assert int(headers["Retry-After"]) > 0
    assert body["error"]["code"] == "queue_full"
    for thread in threads:
        thread.join()
    assert [r[0] for r in results] == [200, 200]
    assert "Traceback" not in one_slot_server.stderr()


def test_idle_model_is_unloaded_and_reloaded(one_slot_server, smollm):
    assert wait_for(lambda: not one_slot_server.health()["loaded"], timeout=10)
    started = time.monotonic()
    status, _, reply = post(
        one_slot_server.url + "/chat/completions", json.dumps(chat(smollm.stem)).encode(), JSON
    )
    assert status == 200, reply
    assert one_slot_server.health()["loaded"]
    assert time.monotonic() - started < 30
