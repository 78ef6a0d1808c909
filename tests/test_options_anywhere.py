"""Options before, between and after a command's positionals, as git, pip and ollama take them."""

from __future__ import annotations

import json

import pytest
from tiny_gguf import ANSWER_TEXT

from amalia_local.cli import build_parser

GREEDY = ("--temperature", "0", "--ctx", "256")


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "M", "--max-tokens", "8", "Olá"],
        ["run", "--max-tokens", "8", "M", "Olá"],
        ["run", "M", "Olá", "--max-tokens", "8"],
        ["run", "--max-tokens", "8", "M", "--system", "S", "Olá"],
        ["--lang", "pt", "run", "M", "--max-tokens=8", "Olá", "--system", "S"],
    ],
)
def test_run_takes_its_options_anywhere(argv):
    args = build_parser().parse_args(argv)
    assert (args.model, args.prompt, args.max_tokens) == ("M", "Olá", 8)


@pytest.mark.parametrize(
    "argv",
    [
        ["tokenize", "M", "--special", "--no-bos", "texto"],
        ["tokenize", "--special", "M", "texto", "--no-bos"],
        ["tokenize", "--no-bos", "M", "--special", "texto"],
    ],
)
def test_tokenize_takes_its_options_anywhere(argv):
    args = build_parser().parse_args(argv)
    assert (args.model, args.text, args.special, args.no_bos) == ("M", "texto", True, True)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["info", "--json", "M", "--ctx", "512"], {"model": "M", "json": True, "ctx": 512}),
        (["show", "--json", "N"], {"name": "N", "json": True}),
        (["rm", "-y", "N"], {"name": "N", "yes": True}),
        (["import", "--name", "x", "F.gguf"], {"path": "F.gguf", "name": "x"}),
        (["serve", "--port", "9", "M", "--parallel", "2"], {"model": "M", "port": 9}),
        (["chat", "--ctx", "512", "M", "--force"], {"model": "M", "ctx": 512, "force": True}),
        (["bench", "-p", "8", "M", "-n", "4"], {"model": "M", "prompt_tokens": 8}),
        (
            ["bundle", "create", "--model", "amalia", "OUT", "--llama", "native"],
            {"out_dir": "OUT", "model": ["amalia"], "llama": "native"},
        ),
    ],
)
def test_every_command_takes_options_before_and_after_its_positionals(argv, expected):
    args = vars(build_parser().parse_args(argv))
    assert {key: args[key] for key in expected} == expected


def test_a_prompt_that_starts_with_a_dash_after_double_dash():
    args = build_parser().parse_args(["run", "M", "--seed", "1", "--", "-5 graus?"])
    assert (args.model, args.prompt, args.seed) == ("M", "-5 graus?", 1)


def test_run_with_options_between_model_and_prompt_answers(amalia, tiny_model):
    """The issue's commands, end to end: each failed with 'unrecognized arguments'."""
    first = amalia("run", str(tiny_model), "--max-tokens", "2", "Olá", *GREEDY)
    assert first.returncode == 0, first.stderr
    assert first.stdout == "Ol\n"  # two tokens of the scripted answer
    system = amalia("run", str(tiny_model), "--system", "És útil.", "Olá", *GREEDY)
    assert system.returncode == 0, system.stderr
    assert system.stdout == ANSWER_TEXT + "\n"
    again = amalia("run", str(tiny_model), "--continue", "--json", "E depois?", *GREEDY)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["text"] == ANSWER_TEXT


def test_a_second_positional_too_many_is_still_a_usage_error(amalia, tiny_model):
    result = amalia("run", str(tiny_model), "--seed", "1", "Olá", "extra")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "unrecognized arguments: extra" in result.stderr
