"""Tool calls through the official ``openai`` client against ``amalia serve`` on SmolLM2.

SmolLM2's template has no tool support, so these run the generic format (tools.py);
the grammar holds every call to a given function with arguments valid for its schema.
"""

from __future__ import annotations

import json

import openai
import pytest
from server_helpers import KEY

pytestmark = pytest.mark.smollm

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city", "unit"],
        },
    },
}
TIME = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "Get the current time in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
TOOLS = [WEATHER, TIME]
# The agent loop's one tool: SmolLM2 uses a result best when the call was simple.
CITY_WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
ASK_WEATHER = [{"role": "user", "content": "Get the weather in Paris."}]


@pytest.fixture(scope="module")
def client(smollm_server) -> openai.OpenAI:
    return openai.OpenAI(base_url=smollm_server.url, api_key=KEY, max_retries=0)


def ask(client: openai.OpenAI, messages=ASK_WEATHER, **options):
    options = {"temperature": 0, "max_tokens": 80, "tools": TOOLS, **options}
    return client.chat.completions.create(
        model=client.models.list().data[0].id, messages=messages, **options
    )


def valid_weather_call(call) -> dict:
    assert call.type == "function" and call.id.startswith("call_")
    assert call.function.name == "get_weather"
    arguments = json.loads(call.function.arguments)
    assert isinstance(arguments["city"], str) and arguments["city"]
    assert arguments["unit"] in ("celsius", "fahrenheit")
    assert set(arguments) <= {"city", "unit"}
    return arguments


def test_required_gives_one_call_valid_for_its_schema(client):
    reply = ask(client, tool_choice="required", parallel_tool_calls=False)
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    [call] = choice.message.tool_calls
    assert valid_weather_call(call)["city"] == "Paris"


def test_a_named_function_is_the_one_called(client):
    reply = ask(client, tool_choice={"type": "function", "function": {"name": "get_time"}})
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls"
    [call] = choice.message.tool_calls
    assert call.function.name == "get_time"
    assert set(json.loads(call.function.arguments)) == {"city"}


def test_auto_calls_a_tool_when_one_fits(client):
    # SmolLM2's own greedy choice: it calls for this wording, and answers "Get the weather
    # in Paris." with prose (the model decides under "auto"; "required" is tested above)
    question = [{"role": "user", "content": "Get the current weather in Paris."}]
    reply = ask(client, question, tool_choice="auto", parallel_tool_calls=False)
    assert reply.choices[0].finish_reason == "tool_calls"
    [call] = reply.choices[0].message.tool_calls
    valid_weather_call(call)


def test_auto_answers_in_text_when_no_tool_fits(client):
    question = [{"role": "user", "content": "What is the capital of France?"}]
    reply = ask(client, question, tool_choice="auto")
    message = reply.choices[0].message
    assert not message.tool_calls
    assert "Paris" in message.content
    assert reply.choices[0].finish_reason in ("stop", "length")


def test_none_answers_in_text_even_when_asked_for_a_call(client):
    """The same question gets a call with "auto" (above) and text with "none"."""
    reply = ask(client, tool_choice="none")
    message = reply.choices[0].message
    assert not message.tool_calls
    assert message.content and not message.content.lstrip().startswith("<tool")
    assert reply.choices[0].finish_reason in ("stop", "length")


def test_parallel_calls_are_separate_calls(client):
    """SmolLM2 repeats its call until max_tokens: several calls, each its own id."""
    reply = ask(client, tool_choice="required", max_tokens=120)
    calls = reply.choices[0].message.tool_calls
    assert len(calls) >= 2
    assert len({call.id for call in calls}) == len(calls)
    complete = calls if reply.choices[0].finish_reason == "tool_calls" else calls[:-1]
    for call in complete:
        valid_weather_call(call)


def test_streamed_call_arrives_as_openai_streams_it(client):
    plain = ask(client, tool_choice="required", parallel_tool_calls=False)
    chunks = list(ask(client, tool_choice="required", parallel_tool_calls=False, stream=True))
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    with_calls = [d.tool_calls for d in deltas if d.tool_calls]
    first = with_calls[0][0]
    assert first.index == 0 and first.id.startswith("call_") and first.type == "function"
    assert first.function.name == "get_weather" and first.function.arguments == ""
    rest = [calls[0] for calls in with_calls[1:]]
    assert len(rest) >= 2  # the arguments come in pieces
    assert all(c.index == 0 and c.id is None and c.function.name is None for c in rest)
    arguments = "".join(c.function.arguments for c in rest)
    assert arguments == plain.choices[0].message.tool_calls[0].function.arguments
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"
    assert not any(d.content for d in deltas)


def test_streamed_text_answer_with_tools_is_content(client):
    question = [{"role": "user", "content": "What is the capital of France?"}]
    plain = ask(client, question)
    chunks = list(ask(client, question, stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == plain.choices[0].message.content
    assert not any(c.choices[0].delta.tool_calls for c in chunks if c.choices)


def test_agent_loop_calls_gets_the_result_and_answers(client):
    """Call, the result fed back as a tool message, the final answer; the second request
    reuses the first one's cells up to the end of the call (written back exactly)."""
    messages: list = list(ASK_WEATHER)
    first = ask(client, messages, tools=[CITY_WEATHER], parallel_tool_calls=False)
    assert first.choices[0].finish_reason == "tool_calls"
    message = first.choices[0].message
    messages.append(message)  # as agents do: the client's own message object
    for call in message.tool_calls:
        city = json.loads(call.function.arguments)["city"]
        result = {"city": city, "temperature_c": 21, "sky": "sunny"}
        messages.append({"role": "tool", "tool_call_id": call.id, "content": json.dumps(result)})
    final = ask(client, messages, tools=[CITY_WEATHER], tool_choice="none")
    answer = final.choices[0].message
    assert not answer.tool_calls
    assert "21" in answer.content or "sunny" in answer.content  # the result, used
    used = first.usage.prompt_tokens + first.usage.completion_tokens
    assert final.usage.prompt_tokens_details.cached_tokens >= used - 2


@pytest.mark.parametrize(
    ("tools", "extra", "param", "code"),
    [
        (  # arguments must be an object
            [{"type": "function", "function": {"name": "f", "parameters": {"type": "string"}}}],
            {},
            "tools.0.function.parameters",
            "invalid_schema",
        ),
        (  # beyond the limits json_schema has too
            [
                TIME,
                {
                    "type": "function",
                    "function": {
                        "name": "f",
                        "parameters": {
                            "type": "object",
                            "properties": {"a": {"type": "string", "maxLength": 100000}},
                        },
                    },
                },
            ],
            {},
            "tools.1.function.parameters",
            "schema_too_complex",
        ),
        (  # the converter never fetches a remote $ref
            [
                {
                    "type": "function",
                    "function": {
                        "name": "f",
                        "parameters": {"$ref": "https://example.com/s.json", "type": "object"},
                    },
                }
            ],
            {},
            "tools.0.function.parameters",
            "invalid_schema",
        ),
        (
            [{"type": "function", "function": {"name": "get weather!"}}],
            {},
            "tools.0.function.name",
            None,
        ),
        ([TIME, TIME], {}, "tools.1.function.name", None),
        ([{"type": "custom", "custom": {"name": "f"}}], {}, "tools.0.type", None),
        (
            [TIME],
            {"tool_choice": {"type": "function", "function": {"name": "get_weather"}}},
            "tool_choice.function.name",
            None,
        ),
        (None, {"tool_choice": "required"}, "tool_choice", None),
    ],
)
def test_invalid_tools_get_400_naming_them(client, tools, extra, param, code):
    options = {"tools": tools} if tools is not None else {"tools": openai.NOT_GIVEN}
    with pytest.raises(openai.BadRequestError) as caught:
        ask(client, **options, **extra)
    error = caught.value.body
    assert error["param"] == param, error
    if code is not None:
        assert error["code"] == code
    assert ask(client, tool_choice="required").choices[0].message.tool_calls  # still serving


def test_large_tool_schemas_are_refused_in_sum(client):
    """Each schema within its limits, many together beyond MAX_TOOLS_BYTES."""
    wide = {
        "type": "object",
        "properties": {f"p{i}": {"type": "string", "description": "x" * 300} for i in range(150)},
    }
    tools = [
        {"type": "function", "function": {"name": f"f{i}", "parameters": wide}} for i in range(25)
    ]
    with pytest.raises(openai.BadRequestError) as caught:
        ask(client, tools=tools)
    assert caught.value.body["param"] == "tools"
