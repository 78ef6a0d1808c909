"""Argument types that check a value's range while argparse reads it.

A value argparse cannot convert keeps argparse's own message ("argument --ctx: invalid
int value: 'x'"): each checker carries its conversion's name, which argparse quotes. A
value out of range is a :class:`UsageError` with the translated message, one line and
exit code 2, raised from the parse (argparse lets exceptions other than its own through).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from amalia_local.errors import UsageError

N = TypeVar("N", int, float)


def positive_int(flag: str) -> Callable[[str], int]:
    """``type=`` for a count above zero: ``--ctx 0`` is "--ctx must be a positive number"."""
    return _positive(int, flag)


def positive_float(flag: str) -> Callable[[str], float]:
    """``type=`` for a quantity above zero (``--idle-unload``)."""
    return _positive(float, flag)


def _positive(convert: Callable[[str], N], flag: str) -> Callable[[str], N]:
    def parse(text: str) -> N:
        value = convert(text)  # ValueError: argparse's "invalid int value: 'x'"
        if value <= 0:
            raise UsageError("error.not_positive", flag=flag)
        return value

    parse.__name__ = convert.__name__  # what argparse calls the type in its message
    return parse


def non_negative_int(flag: str) -> Callable[[str], int]:
    """``type=`` for a count that may be zero (``--audit-log-keep 0``: keep none)."""

    def parse(text: str) -> int:
        value = int(text)
        if value < 0:
            raise UsageError("error.negative", flag=flag)
        return value

    parse.__name__ = "int"
    return parse


def port_number(prog: str) -> Callable[[str], int]:
    """``type=`` for a TCP port, 0 (any free one) to 65535; ``prog`` is the command's
    name in the message ("amalia serve")."""

    def parse(text: str) -> int:
        value = int(text)
        if not 0 <= value <= 65535:
            raise UsageError("error.usage", message=f"invalid port {value}", prog=prog)
        return value

    parse.__name__ = "int"
    return parse
