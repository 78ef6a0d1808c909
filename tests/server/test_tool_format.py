"""The tool-call format without a model: reading answers back in any split, renaming a
grammar's rules apart, and templates with their own tool support."""

from __future__ import annotations

import json

import pytest

from amalia_local.engine.grammar import schema_grammar
from amalia_local.engine.template import ChatTemplate
from amalia_local.server.schemas import ChatCompletionRequest
from amalia_local.server.tool_grammar import not_starting_with, rename_rules
from amalia_local.server.tool_output import ToolReader
from amalia_local.server.tools import format_call, render_chat, tool_plan

TWO_CALLS = (
    format_call("get_weather", '{ "city": "Rio {de} \\"Janeiro\\"", "days": [1, 2] } ')
    + "\n"
    + format_call("get_time", "{}")
)


def read(text: str, sizes: int) -> tuple[ToolReader, list]:
    reader = ToolReader()
    events = []
    for i in range(0, len(text), sizes):
        events += reader.feed(text[i : i + sizes])
    events += reader.finish()
    return reader, events


@pytest.mark.parametrize("size", [1, 2, 3, 7, 1000])
def test_calls_are_read_back_in_any_split(size):
    reader, events = read(TWO_CALLS, size)
    assert [(c.name, c.arguments, c.complete) for c in reader.calls] == [
        ("get_weather", '{ "city": "Rio {de} \\"Janeiro\\"", "days": [1, 2] } ', True),
        ("get_time", "{}", True),
    ]
    assert json.loads(reader.calls[0].arguments)["city"] == 'Rio {de} "Janeiro"'
    assert reader.content == ""
    assert [e for e in events if e[0] == "call"] == [("call", 0), ("call", 1)]
    pieces = "".join(e[2] for e in events if e[0] == "arguments" and e[1] == 0)
    assert pieces == reader.calls[0].arguments


@pytest.mark.parametrize("text", ["Paris.", "<", "<tool", "<tool_response>x", "{}", ""])
def test_text_is_content_whole(text):
    for size in (1, 4, 100):
        reader, _ = read(text, size)
        assert reader.content == text and not reader.calls


def test_a_call_cut_short_keeps_what_was_written():
    cut = TWO_CALLS[:40]
    reader, _ = read(cut, 5)
    [call] = reader.calls
    assert call.name == "get_weather" and not call.complete
    assert cut.endswith(call.arguments)


def test_rename_rules_leaves_literals_classes_and_counts():
    gbnf = 'root ::= "a-b root" [a-z] x{2,3} # root comment\nx ::= root | "\\"x"\n'
    assert rename_rules(gbnf, "p-") == (
        'p-root ::= "a-b root" [a-z] p-x{2,3} # root comment\np-x ::= p-root | "\\"x"\n'
    )


def test_not_starting_with_spells_every_other_beginning():
    rule = not_starting_with("<to")
    assert rule.startswith("[^<] ") and '"<t"' in rule and '"<" [^t]' in rule


def test_schema_strings_hold_no_raw_control_characters():
    """A raw newline in a string is JSON no strict parser reads (json.loads)."""
    gbnf = schema_grammar({"type": "object", "properties": {"a": {"type": "string"}}})
    char = next(line for line in gbnf.splitlines() if line.startswith("char ::="))
    assert "\\x00-\\x1F" in char


NATIVE = (
    "{% if tools %}TOOLS:{% for t in tools %}{{ t.function.name }};{% endfor %}\n{% endif %}"
    "{% for m in messages %}[{{ m.role }}]"
    "{% if m.tool_calls %}{% for c in m.tool_calls %}CALL {{ c.function.name }}"
    "({{ c.function.arguments.city }}){% endfor %}"
    "{% elif m.role == 'tool' %}RESULT {{ m.name }}={{ m.content }}"
    "{% else %}{{ m.content }}{% endif %}\n{% endfor %}"
)
CONVERSATION = {
    "model": "m",
    "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}],
    "messages": [
        {"role": "user", "content": "Weather?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Porto"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "18 C"},
    ],
}


def test_a_template_with_tool_support_renders_them_itself():
    template = ChatTemplate(NATIVE)
    assert template.renders_tools
    body = ChatCompletionRequest.model_validate(CONVERSATION)
    text = render_chat(template, body.messages, tool_plan(body))
    # (trim_blocks eats the newline after each block, as transformers' rendering does)
    assert text == (
        "TOOLS:get_weather;[user]Weather?[assistant]CALL get_weather(Porto)"
        "[tool]RESULT get_weather=18 C"
    )


def test_a_template_without_tool_support_gets_the_generic_format():
    template = ChatTemplate(None)  # ChatML
    assert not template.renders_tools
    body = ChatCompletionRequest.model_validate(CONVERSATION)
    text = render_chat(template, body.messages, tool_plan(body))
    assert "<tools>\n" in text and '"name": "get_weather"' in text
    assert format_call("get_weather", '{"city": "Porto"}') in text
    assert '<|im_start|>user\n<tool_response name="get_weather">\n18 C\n</tool_response>' in text


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"a": {"type": "string", "enum": []}}},
        {"anyOf": []},
        {"type": "object", "properties": {"a": {"anyOf": []}}},
    ],
)
def test_a_schema_no_value_matches_is_refused_before_llama_cpp_sees_it(schema):
    """llama.cpp refuses the empty rule such a schema converts to, after writing the
    whole grammar to the server's stderr."""
    from amalia_local.engine.grammar import GrammarError

    with pytest.raises(GrammarError, match="no value can match"):
        schema_grammar(schema)


def test_rules_written_over_several_lines_are_not_empty():
    from amalia_local.engine.grammar import check_shape, json_grammar

    check_shape(json_grammar())  # llama.cpp's json.gbnf: "object ::=" then the body below
    check_shape('root ::=\n  "a"\n  | "b"\nx ::= "c"\n')


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"": {"type": "string"}}},
        {"type": "object", "properties": {'say "hi"': {"type": "string"}}},
        {"type": "object", "properties": {"a\\b": {"type": "string"}}},
        {"type": "object", "properties": {"line\nbreak": {"type": "string"}}},
        {"enum": ['a"b', "c"]},
        {"const": {"k": ["tab\there"]}},
        {"enum": ["\U0001f642"]},
    ],
)
def test_names_and_strings_the_converter_would_write_wrongly_are_refused(schema):
    """Its literals keep the JSON text's backslashes unescaped: a quote ends the literal
    early, a backslash or newline changes what the answer holds; an empty name takes the
    root rule's place."""
    from amalia_local.server.schema_limits import SchemaLimitError, check_schema

    with pytest.raises(SchemaLimitError) as refused:
        check_schema(schema)
    assert refused.value.limit == "LITERAL_TEXT"


def test_names_and_strings_in_any_language_pass():
    from amalia_local.server.schema_limits import check_schema

    schema = {
        "type": "object",
        "properties": {"preço": {"enum": ["ação", "a b", 1, None]}, "a-b.c": {"const": "x"}},
    }
    check_schema(schema)
    assert '"\\"pre\\u00e7o\\""' in schema_grammar(schema)  # llama.cpp reads \u00e7 as ç


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"a": 5}},
        {"type": "object", "properties": ["a"]},
        {"type": "array", "items": "x"},
        {"type": "object", "properties": {"a": {"type": "string"}}, "required": 5},
    ],
)
def test_a_schema_of_the_wrong_shape_is_refused_in_words_a_client_reads(schema):
    from amalia_local.engine.grammar import GrammarError

    with pytest.raises(GrammarError) as refused:
        schema_grammar(schema)
    assert "wrong type" in str(refused.value)
    assert "object has no attribute" not in str(refused.value)
