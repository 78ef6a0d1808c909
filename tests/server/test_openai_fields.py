"""OpenAI's request fields through the official client against ``amalia serve`` on SmolLM2:
honoured (logprobs, logit_bias, seed, max_completion_tokens), accepted and ignored where
they cannot change the answer, refused with a 400 naming them where they would."""

from __future__ import annotations

import math
import os

import openai
import pytest
from server_helpers import KEY

pytestmark = pytest.mark.smollm

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture(scope="module")
def client(smollm_server) -> openai.OpenAI:
    return openai.OpenAI(base_url=smollm_server.url, api_key=KEY, max_retries=0)


def chat(client: openai.OpenAI, **options):
    options = {"messages": QUESTION, "temperature": 0, "max_tokens": 12, **options}
    return client.chat.completions.create(model=client.models.list().data[0].id, **options)


def complete(client: openai.OpenAI, **options):
    options = {"prompt": "The capital of France is", "temperature": 0, "max_tokens": 4, **options}
    return client.completions.create(model=client.models.list().data[0].id, **options)


def test_models_give_created_owner_and_context_length(client, smollm):
    first, again = client.models.list().data[0], client.models.list().data[0]
    assert first.created == again.created == int(os.stat(smollm).st_mtime)
    assert first.owned_by == "amalia-local"
    assert first.model_extra["context_length"] == 1024  # the fixture's --ctx
    assert first.model_extra["max_model_len"] == 1024


def test_fields_that_cannot_change_the_answer_are_accepted(client):
    plain = chat(client).choices[0].message.content
    reply = chat(
        client,
        user="ana",
        metadata={"team": "legal"},
        store=False,
        service_tier="auto",
        parallel_tool_calls=True,  # without tools: nothing to call
        prediction={"type": "content", "content": "Paris"},
        modalities=["text"],
        n=1,
        extra_body={"safety_identifier": "h1", "prompt_cache_key": "k"},
    )
    assert reply.choices[0].message.content == plain


@pytest.mark.parametrize(
    ("options", "param"),
    [
        ({"n": 2}, "n"),
        ({"audio": {"voice": "alloy", "format": "wav"}}, "audio"),
        ({"modalities": ["text", "audio"]}, "modalities"),
        # newer than the openai client's floor (1.55.3), which has no keyword for them:
        # sent in the body as a newer client sends them
        ({"extra_body": {"reasoning_effort": "high"}}, "reasoning_effort"),
        ({"extra_body": {"verbosity": "low"}}, "verbosity"),
        ({"extra_body": {"web_search_options": {}}}, "web_search_options"),
        ({"functions": [{"name": "f", "parameters": {}}]}, "functions"),
        ({"top_logprobs": 2}, "top_logprobs"),  # without logprobs: true
        ({"extra_body": {"frobnicate": True}}, "frobnicate"),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": "What is this?"},
                            {"type": "image_url", "image_url": {"url": "data:image/png;base64,"}},
                        ],
                    }
                ]
            },
            "messages.0.content.1",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "input_audio", "input_audio": {"data": "", "format": "wav"}}
                        ],
                    }
                ]
            },
            "messages.0.content.0",
        ),
    ],
)
def test_fields_that_would_change_the_answer_are_refused_by_name(client, options, param):
    with pytest.raises(openai.BadRequestError) as caught:
        chat(client, **options)
    assert caught.value.body["param"] == param
    assert param.split(".")[0] in caught.value.body["message"]


@pytest.mark.parametrize(
    ("options", "param"),
    [
        ({"n": 3}, "n"),
        ({"best_of": 2}, "best_of"),
        ({"suffix": " and that is all."}, "suffix"),
        ({"echo": True, "logprobs": 1}, "logprobs"),
    ],
)
def test_completion_fields_that_would_change_the_answer_are_refused(client, options, param):
    with pytest.raises(openai.BadRequestError) as caught:
        complete(client, **options)
    assert caught.value.body["param"] == param


def test_max_completion_tokens_is_honoured(client):
    reply = chat(client, max_tokens=None, max_completion_tokens=3)
    assert reply.usage.completion_tokens == 3
    assert reply.choices[0].finish_reason == "length"


def test_seed_makes_a_sampled_answer_repeatable(client):
    def sampled(seed: int) -> str:
        return chat(client, temperature=1.0, max_tokens=24, seed=seed).choices[0].message.content

    assert sampled(7) == sampled(7)
    assert len({sampled(seed) for seed in (1, 2, 3)}) > 1


def test_chat_logprobs(client):
    reply = chat(client, logprobs=True, top_logprobs=3)
    choice = reply.choices[0]
    entries = choice.logprobs.content
    assert len(entries) == reply.usage.completion_tokens
    assert "".join(e.token for e in entries) == choice.message.content
    for entry in entries:
        assert entry.logprob <= 0 and bytes(entry.bytes).decode() == entry.token
        tops = [t.logprob for t in entry.top_logprobs]
        assert len(tops) == 3 and tops == sorted(tops, reverse=True)
        assert entry.top_logprobs[0].token == entry.token  # greedy: the likeliest
        assert math.isclose(tops[0], entry.logprob)
        assert sum(math.exp(t) for t in tops) <= 1.0 + 1e-6
    streamed = list(chat(client, logprobs=True, top_logprobs=1, stream=True))
    tokens = [
        e.token
        for c in streamed
        if c.choices and c.choices[0].logprobs
        for e in c.choices[0].logprobs.content
    ]
    assert "".join(tokens) == choice.message.content
    assert chat(client).choices[0].logprobs is None  # not asked, not given


def test_completion_logprobs(client):
    reply = complete(client, logprobs=2)
    choice = reply.choices[0]
    logprobs = choice.logprobs
    assert "".join(logprobs.tokens) == choice.text
    assert len(logprobs.token_logprobs) == reply.usage.completion_tokens == 4
    assert logprobs.text_offset == [
        sum(len(t) for t in logprobs.tokens[:i]) for i in range(len(logprobs.tokens))
    ]
    assert all(
        len(top) <= 2 and logprobs.tokens[i] in top for i, top in enumerate(logprobs.top_logprobs)
    )


def paris_token(smollm) -> int:
    from llama_cpp import Llama

    vocab = Llama(str(smollm), vocab_only=True, verbose=False)
    [token] = vocab.tokenize(b" Paris", add_bos=False, special=False)
    return token


def test_logit_bias_bans_and_forces_tokens(client, smollm):
    assert complete(client).choices[0].text.startswith(" Paris")
    paris = paris_token(smollm)
    banned = complete(client, logit_bias={str(paris): -100}).choices[0].text
    assert not banned.startswith(" Paris")
    forced = complete(client, prompt="My favourite colour is", logit_bias={str(paris): 100})
    assert forced.choices[0].text.startswith(" Paris")
    chat_banned = chat(client, logit_bias={str(paris): -100}).choices[0].message.content
    assert " Paris" not in chat_banned


@pytest.mark.parametrize("bias", [{"x": 5}, {"99999999": 5}, {"1": 500}])
def test_bad_logit_bias_is_400(client, bias):
    with pytest.raises(openai.BadRequestError) as caught:
        chat(client, logit_bias=bias)
    assert caught.value.body["param"].startswith("logit_bias")
