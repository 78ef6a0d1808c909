"""The official ``ollama`` client against ``amalia serve`` (real SmolLM2 GGUF): the tools
that speak only Ollama's API use the same port as the OpenAI ones."""

from __future__ import annotations

import json
import socket
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import ollama
import pytest
from pydantic import BaseModel
from server_helpers import KEY, SYSTEM, post, serving, wait_for
from test_errors import declared_too_big

pytestmark = pytest.mark.smollm

QUESTION = "What is the capital of France?"
GREEDY = {"temperature": 0, "num_predict": 24}


@pytest.fixture(scope="module")
def server(smollm_server):
    return smollm_server


@pytest.fixture(scope="module")
def client(server) -> ollama.Client:
    return ollama.Client(host=server.root, headers={"Authorization": f"Bearer {KEY}"}, timeout=300)


@pytest.fixture(scope="module")
def name(smollm: Path) -> str:
    return smollm.stem


def conversation(question: str = QUESTION) -> list[dict[str, str]]:
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}]


def get_json(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


# --- model information ---------------------------------------------------------------------
def test_root_and_version_answer_as_ollama_does(server):
    with urllib.request.urlopen(server.root + "/", timeout=10) as response:
        assert "Ollama is running" in response.read().decode()
    status, body = get_json(server.root + "/api/version")
    assert status == 200
    assert tuple(int(p) for p in body["version"].split(".")) >= (0, 6, 4)  # VS Code's minimum


def test_list_names_the_served_file(client, name, smollm):
    models = client.list().models
    assert [m.model for m in models] == [name]
    assert models[0].size == smollm.stat().st_size
    assert models[0].details.format == "gguf"
    assert models[0].details.family == "llama"
    assert models[0].details.quantization_level == "Q4_1"
    assert models[0].details.parameter_size == "135M"
    assert len(models[0].digest) == 64


def test_show_gives_the_served_context_and_template(client, name):
    shown = client.show(name)
    assert shown.capabilities == ["completion"]
    # The context a request has here (--ctx 1024), not the 8,192 SmolLM2 was trained with:
    # clients size the history they send from it.
    assert shown.modelinfo["llama.context_length"] == 1024
    assert shown.modelinfo["general.architecture"] == "llama"
    assert "<|im_start|>" in shown.template
    assert "temperature 0.7" in shown.parameters
    assert client.show(name + ":latest").modelinfo == shown.modelinfo


def test_ps_shows_the_loaded_model(client, name):
    client.generate(name, "Hi", options={"num_predict": 1})
    running = client.ps().models
    assert [m.model for m in running] == [name]
    assert running[0].context_length == 1024
    assert running[0].expires_at.year > 2200  # no --idle-unload: it stays


# --- generation ----------------------------------------------------------------------------
def test_chat_answers_paris_with_ollamas_figures(client, name):
    reply = client.chat(name, conversation(), options=GREEDY)
    assert "Paris" in reply.message.content
    assert reply.message.role == "assistant"
    assert reply.done is True and reply.done_reason in ("stop", "length")
    assert reply.model == name
    assert reply.prompt_eval_count > 10
    assert 0 < reply.eval_count <= 24
    assert reply.total_duration >= reply.eval_duration > 0
    assert reply.prompt_eval_duration > 0
    assert reply.created_at.endswith("Z")


def test_streamed_chat_is_the_same_answer_in_parts(client, name):
    whole = client.chat(name, conversation(), options=GREEDY).message.content
    parts = list(client.chat(name, conversation(), options=GREEDY, stream=True))
    assert [p.done for p in parts] == [False] * (len(parts) - 1) + [True]
    assert len(parts) > 2  # text arrives as it is made, not at the end
    assert "".join(p.message.content for p in parts) == whole
    assert parts[-1].message.content == ""
    assert parts[-1].eval_count > 0 and parts[-1].done_reason


def test_generate_answers_and_gives_a_context_to_continue(client, name):
    first = client.generate(name, QUESTION, system=SYSTEM, options=GREEDY)
    assert "Paris" in first.response
    assert first.context and all(isinstance(t, int) for t in first.context)
    assert first.prompt_eval_count < len(first.context)  # prompt and answer
    follow = client.generate(name, "And of Italy?", context=first.context, options=GREEDY)
    assert follow.response
    assert follow.prompt_eval_count > len(first.context)


def test_streamed_raw_generate(client, name):
    parts = list(
        client.generate(name, "The capital of France is", raw=True, stream=True, options=GREEDY)
    )
    assert parts[-1].done is True
    assert "".join(p.response for p in parts).strip()


def test_format_json_gives_json(client, name):
    reply = client.chat(
        name,
        [{"role": "user", "content": "Give me a JSON object with a name and an age."}],
        format="json",
        options={"temperature": 0, "num_predict": 80},
    )
    assert isinstance(json.loads(reply.message.content), dict)


class Capital(BaseModel):
    country: str
    capital: str


def test_format_schema_gives_an_object_of_that_schema(client, name):
    schema = Capital.model_json_schema()
    for prop in schema["properties"].values():
        prop["maxLength"] = 20  # a short answer, within num_predict
    reply = client.chat(
        name,
        conversation("What is the capital of France? Answer in JSON."),
        format=schema,
        options={"temperature": 0, "num_predict": 64},
    )
    assert Capital.model_validate_json(reply.message.content).capital


# --- options -------------------------------------------------------------------------------
def test_num_predict_and_stop_are_honoured(client, name):
    short = client.chat(name, conversation(), options={"temperature": 0, "num_predict": 3})
    assert short.eval_count <= 3 and short.done_reason == "length"
    whole = client.chat(name, conversation(), options=GREEDY).message.content
    cut = whole.split()[2]
    stopped = client.chat(name, conversation(), options={**GREEDY, "stop": [cut]})
    assert stopped.message.content == whole[: whole.index(cut)]


def test_a_seed_repeats_a_sampled_answer(client, name):
    def sampled(seed: int) -> str:
        options = {"temperature": 1.5, "seed": seed, "num_predict": 16}
        return client.generate(name, "Tell me a story.", options=options).response

    assert sampled(7) == sampled(7)
    assert sampled(7) != sampled(8)


def test_a_smaller_num_ctx_is_honoured(client, name):
    reply = client.generate(name, "Count to fifty.", options={"temperature": 0, "num_ctx": 64})
    assert reply.prompt_eval_count + reply.eval_count <= 64
    assert reply.done_reason == "length"
    with pytest.raises(ollama.ResponseError) as error:
        client.generate(name, "word " * 80, options={"num_ctx": 64})
    assert error.value.status_code == 400 and "num_ctx" in error.value.error


# --- errors --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("call", "status", "named"),
    [
        (lambda c, n: c.chat("nope", conversation()), 404, "nope"),
        (lambda c, n: c.show("nope:latest"), 404, "nope"),
        (lambda c, n: c.chat(n, conversation(), options={"mirostat": 2}), 400, "mirostat"),
        (lambda c, n: c.chat(n, conversation(), options={"typical_p": 0.5}), 400, "typical_p"),
        (lambda c, n: c.chat(n, conversation(), options={"bogus": 1}), 400, "bogus"),
        (
            lambda c, n: c.chat(
                n, conversation(), options={"repeat_penalty": 1.2, "repeat_last_n": 256}
            ),
            400,
            "repeat_last_n",
        ),
        (lambda c, n: c.chat(n, conversation(), think=True), 400, "think"),
        (lambda c, n: c.chat(n, conversation(), keep_alive="soon"), 400, "keep_alive"),
        (lambda c, n: c.generate(n, "x", suffix="y"), 400, "suffix"),
        (lambda c, n: c.generate(n, "x", images=[b"\x89PNG"]), 400, "images"),
        (lambda c, n: c.generate(n, "x", context=[10**9]), 400, "context"),
        (
            lambda c, n: c.chat(n, conversation(), format={"type": "string", "maxLength": 10**6}),
            400,
            "MAX_REPEAT",
        ),
        (lambda c, n: c.pull(n), 404, "pull"),
    ],
)
def test_client_mistakes_get_ollamas_error_with_their_status(client, name, call, status, named):
    with pytest.raises(ollama.ResponseError) as error:
        call(client, name)
    assert error.value.status_code == status
    assert isinstance(error.value.error, str) and named in error.value.error


def test_the_key_is_required(server, name):
    keyless = ollama.Client(host=server.root, timeout=60)
    for call in (keyless.list, keyless.ps, lambda: keyless.chat(name, conversation())):
        with pytest.raises(ollama.ResponseError) as error:
            call()
        assert error.value.status_code == 401
    wrong = ollama.Client(host=server.root, headers={"Authorization": "Bearer nope"})
    with pytest.raises(ollama.ResponseError):
        wrong.show(name)


def test_bad_json_and_wrong_methods_get_ollamas_error(server, name):
    auth = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    status, _, body = post(server.root + "/api/chat", b'{"model": ', auth)
    assert status == 400 and isinstance(body["error"], str)
    status, _, body = post(server.root + "/api/chat", b"[1, 2]", auth)
    assert status == 400 and "object" in body["error"]
    status, body = get_json(server.root + "/api/chat", auth)
    assert status == 405 and isinstance(body["error"], str)
    yaml = {"model": name, "messages": conversation(), "format": "yaml"}  # the client refuses it
    status, _, body = post(server.root + "/api/chat", json.dumps(yaml).encode(), auth)
    assert status == 400 and "format" in body["error"]
    status, _, body = declared_too_big(server.root + "/api/chat")
    assert status == 413 and isinstance(body["error"], str)


def test_no_traceback_in_the_servers_log(server):
    """After every request above, the good and the refused: one line each, no traceback."""
    assert "Traceback" not in server.stderr()
    assert "/api/pull is not part of" in server.stderr()


def counting_request(root: str, model: str, stream: bool) -> socket.socket:
    """A long answer (counting to 1,500 tokens) on a raw socket, to drop halfway."""
    body = {
        "model": model,
        "prompt": "1\n2\n3\n4\n5\n6\n",
        "raw": True,
        "stream": stream,
        "options": {"temperature": 0, "num_predict": 1500},
    }
    data = json.dumps(body).encode()
    parts = urlparse(root)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=300)
    head = (
        f"POST /api/generate HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
    )
    sock.sendall(head.encode() + data)
    return sock


@pytest.mark.parametrize("stream", [True, False])
def test_a_client_gone_frees_its_slot(staying, name, stream):
    before = staying.health()["tokens_generated"]
    sock = counting_request(staying.root, name, stream)
    assert wait_for(lambda: staying.health()["tokens_generated"] > before + 5, timeout=60)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01" + b"\x00" * 7)
    sock.close()
    assert wait_for(lambda: staying.health()["slots_processing"] == 0, timeout=60)
    assert staying.health()["tokens_generated"] - before < 300  # not the 1,500 asked


# --- keep_alive against --idle-unload --------------------------------------------------------
def loaded(root: str) -> bool:
    with urllib.request.urlopen(root + "/health", timeout=10) as response:
        return json.load(response)["loaded"]


@pytest.fixture(scope="module")
def staying(smollm: Path, tmp_path_factory: pytest.TempPathFactory):
    """No --idle-unload: only a client's keep_alive unloads the model."""
    home = tmp_path_factory.mktemp("ollama-stay")
    args = [str(smollm), "--port", "0", "--parallel", "1", "--ctx", "512", "--threads", "2"]
    with serving(home, args) as server:
        yield server


def test_keep_alive_zero_unloads_after_the_request(staying, name):
    client = ollama.Client(host=staying.root, timeout=300)
    client.generate(name, "Hi", options={"num_predict": 2}, keep_alive=0)
    assert wait_for(lambda: not loaded(staying.root), timeout=30)
    assert client.ps().models == []
    reply = client.generate(name, "Hi", options={"num_predict": 2})  # loads it again
    assert reply.load_duration > 0 and loaded(staying.root)


def test_a_keep_alive_duration_unloads_once_idle_that_long(staying, name):
    client = ollama.Client(host=staying.root, timeout=300)
    client.generate(name, "Hi", options={"num_predict": 2}, keep_alive="3s")
    (entry,) = client.ps().models  # still loaded, unloading in about 3 s
    assert loaded(staying.root)
    assert wait_for(lambda: not loaded(staying.root), timeout=30)
    assert entry.expires_at.year < 2200


def test_load_and_unload_requests(staying, name):
    client = ollama.Client(host=staying.root, timeout=300)
    assert client.generate(name).done_reason == "load"
    assert loaded(staying.root)
    assert client.generate(name, keep_alive=0).done_reason == "unload"  # as `ollama stop`
    assert wait_for(lambda: not loaded(staying.root), timeout=30)
    assert client.chat(name, []).done_reason == "load"


@pytest.fixture(scope="module")
def unloading(smollm: Path, tmp_path_factory: pytest.TempPathFactory):
    """--idle-unload 0.03 minutes: 1.8 s, shorter than any keep_alive sent below."""
    home = tmp_path_factory.mktemp("ollama-unload")
    args = [str(smollm), "--port", "0", "--parallel", "1", "--ctx", "512", "--threads", "2"]
    with serving(home, [*args, "--idle-unload", "0.03"]) as server:
        yield server


@pytest.mark.parametrize("keep_alive", ["1h", -1])
def test_a_longer_keep_alive_is_bounded_by_idle_unload(unloading, name, keep_alive):
    client = ollama.Client(host=unloading.root, timeout=300)
    client.generate(name, "Hi", options={"num_predict": 2}, keep_alive=keep_alive)
    (entry,) = client.ps().models
    assert entry.expires_at.year < 2200  # the server's limit, not the client's
    assert wait_for(lambda: not loaded(unloading.root), timeout=30)
