"""Argument types do the range checks: a bad value is the same one line as before, in
both languages, exit code 2, found while parsing (before any model or file is opened)."""

from __future__ import annotations

import pytest

from amalia_local.cli import main
from amalia_local.commands.types import port_number, positive_float, positive_int
from amalia_local.errors import UsageError

MISSING = "/nowhere/model.gguf"  # never opened: the value is refused first

NOT_POSITIVE = {
    "en": "amalia: {flag} must be a positive number\n",
    "pt": "amalia: {flag} tem de ser um número positivo\n",
}
SEE_HELP = {"en": "(see '{prog} --help')", "pt": "(consulte '{prog} --help')"}

CHECKED = [
    (("run", MISSING, "Olá", "--ctx", "0"), "--ctx"),
    (("run", MISSING, "Olá", "--threads", "-2"), "--threads"),
    (("run", MISSING, "Olá", "--max-tokens", "0"), "--max-tokens"),
    (("run", MISSING, "Olá", "--conversation", "0"), "--conversation"),
    (("run", "--endpoint", "http://127.0.0.1:9/v1", "Olá", "--ctx", "0"), "--ctx"),
    (("run", "--endpoint", "http://127.0.0.1:9/v1", "Olá", "--threads", "0"), "--threads"),
    (("info", MISSING, "--ctx", "-1"), "--ctx"),
    (("show", "amalia", "--ctx", "0"), "--ctx"),
    (("chat", MISSING, "--ctx", "0"), "--ctx"),
    (("chat", MISSING, "--threads", "0"), "--threads"),
    (("bench", MISSING, "-r", "0"), "--repetitions"),
    (("bench", MISSING, "--repetitions", "-1"), "--repetitions"),
    (("bench", MISSING, "--ctx", "0"), "--ctx"),
    (("serve", MISSING, "--parallel", "0"), "--parallel"),
    (("serve", MISSING, "--max-queue", "0"), "--max-queue"),
    (("serve", MISSING, "--idle-unload", "0"), "--idle-unload"),
    (("serve", MISSING, "--idle-unload", "-0.5"), "--idle-unload"),
    (("serve", MISSING, "--threads", "0"), "--threads"),
]


@pytest.fixture
def amalia_home(tmp_path, monkeypatch):
    monkeypatch.setenv("AMALIA_HOME", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def _main(capsys, lang: str, *args: str) -> tuple[int, str]:
    code = main(["--lang", lang, *args])
    captured = capsys.readouterr()
    assert captured.out == ""
    return code, captured.err


@pytest.mark.parametrize("lang", ["en", "pt"])
@pytest.mark.parametrize(("args", "flag"), CHECKED)
def test_a_value_not_above_zero_is_one_line_exit_2(amalia_home, capsys, lang, args, flag):
    assert _main(capsys, lang, *args) == (2, NOT_POSITIVE[lang].format(flag=flag))


@pytest.mark.parametrize("lang", ["en", "pt"])
@pytest.mark.parametrize("port", ["70000", "-1"])
def test_a_port_out_of_range_is_one_line_exit_2(amalia_home, capsys, lang, port):
    see = SEE_HELP[lang].format(prog="amalia serve")
    expected = f"amalia: invalid port {port} {see}\n"
    assert _main(capsys, lang, "serve", MISSING, "--port", port) == (2, expected)


@pytest.mark.parametrize("lang", ["en", "pt"])
@pytest.mark.parametrize(
    ("args", "message", "prog"),
    [
        (("run", MISSING, "--ctx", "x"), "argument --ctx: invalid int value: 'x'", "amalia run"),
        (
            ("serve", MISSING, "--port", "x"),
            "argument --port: invalid int value: 'x'",
            "amalia serve",
        ),
        (
            ("serve", MISSING, "--idle-unload", "abc"),
            "argument --idle-unload: invalid float value: 'abc'",
            "amalia serve",
        ),
        (
            ("bench", MISSING, "-r", "2.5"),
            "argument -r/--repetitions: invalid int value: '2.5'",
            "amalia bench",
        ),
    ],
)
def test_a_value_that_is_no_number_keeps_argparses_message(
    amalia_home, capsys, lang, args, message, prog
):
    see = SEE_HELP[lang].format(prog=prog)
    assert _main(capsys, lang, *args) == (2, f"amalia: {message} {see}\n")


def test_the_types_return_the_value_and_refuse_by_the_flags_name():
    assert positive_int("--ctx")("512") == 512
    assert positive_float("--idle-unload")("0.5") == 0.5
    assert port_number("amalia serve")("0") == 0
    assert port_number("amalia serve")("65535") == 65535
    with pytest.raises(UsageError) as refused:
        positive_int("--ctx")("0")
    assert (refused.value.key, refused.value.params) == ("error.not_positive", {"flag": "--ctx"})
    with pytest.raises(ValueError):
        positive_int("--ctx")("x")  # argparse turns this into its own message
    assert positive_int("--ctx").__name__ == "int"
    assert positive_float("--idle-unload").__name__ == "float"
