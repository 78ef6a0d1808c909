"""Ollama's keep_alive values as its clients send them (numbers, Go durations)."""

from __future__ import annotations

import pytest

from amalia_local.server.errors import APIError
from amalia_local.server.ollama_schemas import keep_alive_s


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (0, 0.0),
        ("0", 0.0),
        (300, 300.0),
        (2.5, 2.5),
        ("5m", 300.0),
        ("1h30m", 5400.0),
        ("1.5h", 5400.0),
        ("300ms", 0.3),
        ("90", 90.0),
        ("-1", None),
        ("-1m", None),
        (-1, None),
        (float("inf"), None),
        (1e300, None),  # far beyond any date: forever, not an overflow
        ("9999999999h", None),
    ],
)
def test_keep_alive_values(value, seconds):
    assert (
        keep_alive_s(value) == pytest.approx(seconds) if seconds else keep_alive_s(value) == seconds
    )


@pytest.mark.parametrize("value", ["soon", "5 minutes", "m", "", "1e999h", "5m" * 20, True])
def test_keep_alive_nonsense_is_a_400_naming_it(value):
    with pytest.raises(APIError) as error:
        keep_alive_s(value)
    assert error.value.status == 400 and error.value.param == "keep_alive"
