"""The official ``openai`` client against ``amalia serve`` with the real SmolLM2 GGUF."""

from __future__ import annotations

import json

import openai
import pytest
from server_helpers import KEY, SYSTEM

pytestmark = pytest.mark.smollm

QUESTION = "What is the capital of France?"


@pytest.fixture(scope="module")
def client(smollm_server) -> openai.OpenAI:
    return openai.OpenAI(base_url=smollm_server.url, api_key=KEY, max_retries=0)


def model_id(client: openai.OpenAI) -> str:
    return client.models.list().data[0].id


def test_models_lists_the_served_model(client, smollm):
    models = client.models.list().data
    assert [m.id for m in models] == [smollm.stem]
    assert models[0].object == "model"


def test_chat_completion_answers_paris_with_usage(client):
    reply = client.chat.completions.create(
        model=model_id(client),
        messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": QUESTION}],
        temperature=0,
        max_tokens=48,
    )
    assert "Paris" in reply.choices[0].message.content
    assert reply.choices[0].finish_reason == "stop"
    usage = reply.usage
    assert usage.prompt_tokens > 10 and usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    timings = reply.model_extra["timings"]  # llama-server's names, for its tools
    assert timings["predicted_n"] == usage.completion_tokens + 1  # the end-of-turn token


@pytest.mark.parametrize(
    "penalties",
    [
        {"presence_penalty": -1.0},
        {"frequency_penalty": 1e-320},  # a denormal: 0 as a C float, still "a penalty"
        {"frequency_penalty": 2.0, "presence_penalty": 2.0},
        {"extra_body": {"repeat_penalty": 1.5}},
    ],
)
def test_penalties_within_openais_range_are_answered(client, penalties):
    """Every request with a penalty once ended in 500: the binding's signature changed."""
    reply = client.chat.completions.create(
        model=model_id(client),
        messages=[{"role": "user", "content": "Diz 'sim' dez vezes: sim sim sim"}],
        temperature=0,
        max_tokens=16,
        **penalties,
    )
    assert reply.choices[0].message.content


def test_a_frequency_penalty_changes_a_repetitive_answer(client):
    def answer(**penalties: float) -> str:
        reply = client.chat.completions.create(
            model=model_id(client),
            messages=[{"role": "user", "content": "Repeat after me: yes yes yes yes yes yes"}],
            temperature=0,
            max_tokens=24,
            **penalties,
        )
        return reply.choices[0].message.content

    plain, penalised = answer(), answer(frequency_penalty=2.0)
    assert penalised != plain
    assert penalised.lower().count("yes") < plain.lower().count("yes"), (plain, penalised)


def test_streamed_chat_completion(client):
    stream = client.chat.completions.create(
        model=model_id(client),
        messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": QUESTION}],
        temperature=0,
        max_tokens=48,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "Paris" in text
    # Several chunks (text that arrives while the server is busy is sent together).
    assert sum(1 for c in chunks if c.choices and c.choices[0].delta.content) >= 2
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0
    plain = client.chat.completions.create(
        model=model_id(client),
        messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": QUESTION}],
        temperature=0,
        max_tokens=48,
    )
    assert text == plain.choices[0].message.content


def test_completion_endpoint(client):
    reply = client.completions.create(
        model=model_id(client), prompt="The capital of France is", max_tokens=8, temperature=0
    )
    assert "Paris" in reply.choices[0].text
    assert reply.usage.completion_tokens == 8
    assert reply.choices[0].finish_reason == "length"


def test_stop_string_ends_the_answer(client):
    reply = client.completions.create(
        model=model_id(client),
        prompt="1, 2, 3, 4, 5,",
        max_tokens=30,
        temperature=0,
        stop=[" 8"],
    )
    text = reply.choices[0].text
    assert "7" in text and "8" not in text
    assert reply.choices[0].finish_reason == "stop"


def test_json_schema_output_validates(client):
    schema = {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "country": {"type": "string"},
            "population_millions": {"type": "number"},
        },
        "required": ["city", "country", "population_millions"],
        "additionalProperties": False,
    }
    reply = client.chat.completions.create(
        model=model_id(client),
        messages=[
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": "Describe Paris as JSON: city, country, population."},
        ],
        temperature=0,
        max_tokens=120,
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "city", "schema": schema},
        },
    )
    data = json.loads(reply.choices[0].message.content)
    assert set(data) == {"city", "country", "population_millions"}
    assert isinstance(data["city"], str) and isinstance(data["country"], str)
    assert isinstance(data["population_millions"], int | float)


def test_json_object_output_parses(client):
    reply = client.chat.completions.create(
        model=model_id(client),
        messages=[{"role": "user", "content": "Give me a JSON object with a name and an age."}],
        temperature=0,
        max_tokens=80,
        response_format={"type": "json_object"},
    )
    assert isinstance(json.loads(reply.choices[0].message.content), dict)
