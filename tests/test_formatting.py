"""Numbers as each interface language writes them: 5.6 GB / 8,192 in English,
5,6 GB / 8192 / 16 384 (narrow no-break space) in European Portuguese."""

from __future__ import annotations

import pytest

from amalia_local.errors import AmaliaError
from amalia_local.formatting import Bytes, Count, NumberFormat
from amalia_local.i18n import Translator
from amalia_local.runtime import Runtime

NNBSP = "\u202f"
EN, PT = NumberFormat("en"), NumberFormat("pt")


@pytest.mark.parametrize(
    ("n", "en", "pt"),
    [
        (0, "0 B", "0 B"),
        (999, "999 B", "999 B"),
        (4_500_000, "4.5 MB", "4,5 MB"),
        (5_600_000_000, "5.6 GB", "5,6 GB"),
        (123_400, "123.4 kB", "123,4 kB"),
        (1_234_567_890_123_456, "1,234.6 TB", "1234,6 TB"),
        (12_345_678_901_234_567, "12,345.7 TB", f"12{NNBSP}345,7 TB"),
    ],
)
def test_bytes(n, en, pt):
    assert EN.bytes(n) == en
    assert PT.bytes(n) == pt


@pytest.mark.parametrize(
    ("n", "en", "pt"),
    [
        (512, "512", "512"),
        (8192, "8,192", "8192"),
        (9999, "9,999", "9999"),
        (10_000, "10,000", f"10{NNBSP}000"),
        (16_384, "16,384", f"16{NNBSP}384"),
        (131_072, "131,072", f"131{NNBSP}072"),
        (9_152_000_000, "9,152,000,000", f"9{NNBSP}152{NNBSP}000{NNBSP}000"),
        (-16_384, "-16,384", f"-16{NNBSP}384"),
    ],
)
def test_count(n, en, pt):
    assert EN.count(n) == en
    assert PT.count(n) == pt


@pytest.mark.parametrize(
    ("x", "places", "en", "pt"),
    [
        (12.34, 1, "12.3", "12,3"),
        (4.567, 2, "4.57", "4,57"),
        (0.04, 1, "0.0", "0,0"),
        (-0.04, 1, "0.0", "0,0"),  # no "-0,0"
        (-2.5, 2, "-2.50", "-2,50"),
        (1234.5, 1, "1,234.5", "1234,5"),
        (12345.6, 1, "12,345.6", f"12{NNBSP}345,6"),
        (7.0, 0, "7", "7"),
    ],
)
def test_decimal(x, places, en, pt):
    assert EN.decimal(x, places) == en
    assert PT.decimal(x, places) == pt


def test_parameter_counts_keep_model_card_units_with_the_language_decimal_mark():
    assert EN.short(9_152_000_000) == "9.15B"
    assert PT.short(9_152_000_000) == "9,15B"
    assert PT.short(135_000_000) == "135M"
    assert PT.short(999) == "999"


def test_translator_and_runtime_hand_out_the_formatter_of_their_language():
    assert Translator("pt").numbers == PT
    assert Translator("en").numbers == EN
    assert Runtime(translator=Translator("pt")).numbers.bytes(5_600_000_000) == "5,6 GB"
    assert Translator("en").number(8192) == "8,192"


def test_error_parameters_are_written_in_the_language_that_shows_the_error():
    """Errors are raised far from the reader: they carry marked numbers, not text."""
    error = AmaliaError(
        "error.does_not_fit",
        needed=Bytes(5_600_000_000),
        available=Bytes(3_200_000_000),
        n_ctx=Count(16_384),
    )
    pt = Translator("pt").t(error.key, **error.params)
    assert "5,6 GB" in pt and "3,2 GB" in pt and f"16{NNBSP}384" in pt
    en = Translator("en").t(error.key, **error.params)
    assert "5.6 GB" in en and "3.2 GB" in en and "16,384" in en
    assert str(error) == en  # str() stays English, for logs and tracebacks


def test_unmarked_parameters_pass_through_unchanged():
    """Only Bytes / Count are localized: versions, exit codes and flags stay as given."""
    t = Translator("en")
    assert t.t("bundle.smoke_failed", code=1234) == t.t("bundle.smoke_failed", code="1234")
    assert PT.value(True) is True
    assert PT.value(2048) == 2048
