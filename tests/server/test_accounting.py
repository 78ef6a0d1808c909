"""A department's server: named keys, the audit log, /metrics and per-key limits.

One ``amalia serve`` with the real SmolLM2, a keys file of several users and an audit
log, driven over HTTP as its users and Prometheus would drive it.
"""

from __future__ import annotations

import json
import signal
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families
from server_helpers import post, serve_env, start_server, stop_server, wait_for

pytestmark = pytest.mark.smollm

ALICE = "alice-key-0123456789"
BOB = "bob-key-0123456789"
CAROL = "carol-key-0123456789"
LIMITED = "limited-key-0123456789"  # two requests a minute
THRIFTY = "thrifty-key-0123456789"  # one token a day: the first request spends it
SECRET_WORDS = "Quem escreveu Os Lusíadas?"
KEYS = f"""# the department's keys
alice   {ALICE}
bob     {BOB}    # a trailing comment

limited {LIMITED} requests_per_minute=2
thrifty {THRIFTY} tokens_per_day=1
"""


@pytest.fixture(scope="module")
def served(smollm: Path, tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("serve-accounting")
    keys = home / "keys.txt"
    keys.write_text(KEYS, encoding="utf-8")
    keys.chmod(0o600)
    audit = home / "audit.jsonl"
    server = start_server(
        [
            str(smollm),
            "--port",
            "0",
            "--parallel",
            "2",
            "--ctx",
            "1024",
            "--threads",
            "2",
            "--api-keys-file",
            str(keys),
            "--audit-log",
            str(audit),
        ],
        serve_env(home),
        home / "stderr.log",
    )
    server.keys = keys  # type: ignore[attr-defined]
    server.audit = audit  # type: ignore[attr-defined]
    yield server
    stop_server(server)
    assert "Traceback" not in server.stderr()


def model_name(smollm: Path) -> str:
    return smollm.stem


def chat(server, key: str | None, smollm: Path, **extra: Any) -> tuple[int, Any, dict]:
    body = {
        "model": model_name(smollm),
        "messages": [{"role": "user", "content": SECRET_WORDS}],
        "max_tokens": 4,
        "temperature": 0,
        **extra,
    }
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    return post(server.url + "/chat/completions", json.dumps(body).encode(), headers)


def stream_chat(server, key: str, smollm: Path, **extra: Any) -> dict:
    """A streamed chat; the usage its last chunk carries."""
    body = {
        "model": model_name(smollm),
        "messages": [{"role": "user", "content": SECRET_WORDS}],
        "temperature": 0,
        "stream": True,
        **extra,
    }
    request = urllib.request.Request(
        server.url + "/chat/completions",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=300) as response:
        events = [
            line[6:] for line in response.read().decode().splitlines() if line[:6] == "data: "
        ]
    assert events[-1] == "[DONE]"
    return json.loads(events[-2])["usage"]


def get(url: str, key: str | None) -> tuple[int, Any, bytes]:
    request = urllib.request.Request(url)
    if key is not None:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def audit_lines(server) -> list[dict]:
    text = server.audit.read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


def audited_after(server, count: int, new: int) -> list[dict]:
    """The ``new`` lines after the first ``count`` (the writer is a thread: wait for it)."""
    assert wait_for(lambda: len(audit_lines(server)) >= count + new, timeout=60)
    lines = audit_lines(server)
    assert len(lines) == count + new, lines[count:]
    return lines[count:]


def metrics(server, key: str = ALICE) -> dict[tuple[str, tuple], float]:
    status, _, body = get(server.root + "/metrics", key)
    assert status == 200, body
    samples = {}
    for family in text_string_to_metric_families(body.decode("utf-8")):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def sample(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


# --- keys -----------------------------------------------------------------------------------
def test_each_user_their_key_and_a_wrong_one_is_refused(served, smollm):
    for key in (ALICE, BOB):
        status, _, reply = chat(served, key, smollm)
        assert status == 200, reply
        assert reply["usage"]["completion_tokens"] > 0
    for key in ("wrong-key-0123456789", ALICE + "x", None, ""):
        status, _, reply = chat(served, key, smollm)
        assert status == 401
        assert reply["error"]["type"] == "authentication_error"
        assert reply["error"]["code"] == "invalid_api_key"


def test_the_openai_client_per_user(served, smollm):
    client = openai.OpenAI(base_url=served.url, api_key=BOB, max_retries=0)
    assert [m.id for m in client.models.list().data] == [model_name(smollm)]
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=served.url, api_key="nobody-0123456789", max_retries=0).models.list()


def test_health_is_open_metrics_and_unknown_routes_are_not(served):
    assert get(served.root + "/health", None)[0] == 200
    status, _, body = get(served.root + "/metrics", None)
    assert status == 401 and json.loads(body)["error"]["code"] == "invalid_api_key"
    # A route nobody has written yet (Ollama's) is behind the key too, in Ollama's shape.
    status, _, body = get(served.root + "/api/tags", "wrong-key-0123456789")
    assert status == 401 and isinstance(json.loads(body)["error"], str)


def test_sighup_reloads_the_keys_and_a_bad_file_keeps_them(served, smollm):
    original = served.keys.read_text(encoding="utf-8")
    try:
        served.keys.write_text(original.replace(f"bob     {BOB}", f"carol {CAROL}"))
        served.process.send_signal(signal.SIGHUP)
        assert wait_for(lambda: get(served.url + "/models", CAROL)[0] == 200, timeout=10)
        assert get(served.url + "/models", BOB)[0] == 401  # revoked
        assert get(served.url + "/models", ALICE)[0] == 200

        served.keys.write_text(original + "dave\n")  # no key: line 7
        before = served.stderr()
        served.process.send_signal(signal.SIGHUP)
        assert wait_for(lambda: "not reloaded" in served.stderr(), timeout=10)
        new_lines = served.stderr()[len(before) :].splitlines()
        assert len(new_lines) == 1 and f"{served.keys}:7" in new_lines[0], new_lines
        assert get(served.url + "/models", CAROL)[0] == 200  # the keys in use stayed
        assert get(served.url + "/models", BOB)[0] == 401
        assert served.process.poll() is None
    finally:
        served.keys.write_text(original)
        served.process.send_signal(signal.SIGHUP)
        assert wait_for(lambda: get(served.url + "/models", BOB)[0] == 200, timeout=10)


# --- the audit log --------------------------------------------------------------------------
def test_one_audit_line_per_request_with_its_key_and_tokens(served, smollm):
    count = len(audit_lines(served))
    status, _, first = chat(served, ALICE, smollm)
    assert status == 200
    second = stream_chat(served, BOB, smollm, max_tokens=3)
    assert chat(served, "wrong-key-0123456789", smollm)[0] == 401
    lines = audited_after(served, count, 3)

    alice, bob, stranger = lines
    assert alice["key"] == "alice" and alice["status"] == 200
    assert alice["endpoint"] == "/v1/chat/completions" and alice["method"] == "POST"
    assert alice["model"] == model_name(smollm) and alice["client"] == "127.0.0.1"
    assert alice["prompt_tokens"] == first["usage"]["prompt_tokens"]
    assert alice["completion_tokens"] == first["usage"]["completion_tokens"]
    assert alice["cached_tokens"] == first["usage"]["prompt_tokens_details"]["cached_tokens"]
    assert 0 < alice["time_to_first_token_ms"] <= alice["duration_ms"]
    assert alice["time"].endswith("Z")

    assert bob["key"] == "bob" and bob["status"] == 200
    assert bob["completion_tokens"] == second["completion_tokens"] > 0
    assert bob["prompt_tokens"] == alice["prompt_tokens"]

    assert stranger["key"] is None and stranger["status"] == 401
    assert stranger["prompt_tokens"] == 0 and stranger["time_to_first_token_ms"] is None

    text = served.audit.read_text(encoding="utf-8")
    assert "Lusíadas" not in text and "request" not in lines[0] and "answer" not in lines[0]
    # /health (probes every few seconds) is not audited
    assert get(served.root + "/health", None)[0] == 200
    assert get(served.url + "/models", ALICE)[0] == 200
    assert [line["endpoint"] for line in audited_after(served, count + 3, 1)] == ["/v1/models"]


# --- /metrics -------------------------------------------------------------------------------
def test_metrics_parse_and_their_counters_move(served, smollm):
    before = metrics(served)
    status, _, reply = chat(served, ALICE, smollm)
    assert status == 200
    assert chat(served, "wrong-key-0123456789", smollm)[0] == 401
    after = metrics(served)

    def moved(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    endpoint = "/v1/chat/completions"
    assert moved("amalia_requests_total", endpoint=endpoint, status="200", key="alice") == 1
    assert moved("amalia_requests_total", endpoint=endpoint, status="401", key="-") == 1
    # the first scrape counts too, once it has been answered
    assert moved("amalia_requests_total", endpoint="/metrics", status="200", key="alice") == 1
    usage = reply["usage"]
    assert moved("amalia_prompt_tokens_total", key="alice") == usage["prompt_tokens"]
    assert moved("amalia_completion_tokens_total", key="alice") == usage["completion_tokens"]
    cached = usage["prompt_tokens_details"]["cached_tokens"]
    assert moved("amalia_prompt_tokens_cached_total", key="alice") == cached
    assert moved("amalia_time_to_first_token_seconds_count") == 1
    for gauge in ("amalia_slots_busy", "amalia_queue_depth", "amalia_slots_total"):
        assert (gauge, ()) in after
    assert sample(after, "amalia_slots_total") == 2
    assert sample(after, "amalia_model_loaded") == 1
    assert ("amalia_prompt_tokens_per_second_count", ()) in after


def test_a_client_path_does_not_become_a_metrics_label(served):
    for n in range(3):
        assert get(served.root + f"/nothing-{n}", ALICE)[0] == 404
    after = metrics(served)
    labels = {
        dict(labels).get("endpoint") for (name, labels) in after if "endpoint" in dict(labels)
    }
    assert "other" in labels and not any(label.startswith("/nothing") for label in labels)


# --- limits ---------------------------------------------------------------------------------
def test_requests_per_minute_answered_with_429_and_retry_after(served):
    assert get(served.url + "/models", LIMITED)[0] == 200
    assert get(served.url + "/models", LIMITED)[0] == 200
    status, headers, body = get(served.url + "/models", LIMITED)
    assert status == 429
    assert 1 <= int(headers["Retry-After"]) <= 60
    error = json.loads(body)["error"]
    assert error["code"] == "rate_limit_exceeded" and error["type"] == "requests"
    assert "2 requests per minute" in error["message"]
    assert get(served.url + "/models", ALICE)[0] == 200  # the others are not limited
    client = openai.OpenAI(base_url=served.url, api_key=LIMITED, max_retries=0)
    with pytest.raises(openai.RateLimitError):
        client.models.list()


def test_tokens_per_day_answered_with_429_once_spent(served, smollm):
    status, _, reply = chat(served, THRIFTY, smollm)
    assert status == 200  # under the allowance when it started: it finishes
    status, headers, reply = chat(served, THRIFTY, smollm)
    assert status == 429
    assert reply["error"]["type"] == "tokens" and reply["error"]["code"] == "rate_limit_exceeded"
    # the day slides: the tokens leave it a day after they were spent
    assert 86_000 < int(headers["Retry-After"]) <= 86_400
