"""Every number the CLI shows follows the interface language: 5,6 GB and 8192 tokens
in Portuguese, 5.6 GB and 8,192 in English; --json stays plain numbers."""

from __future__ import annotations

import json
import re

import pytest

from amalia_local import fit
from amalia_local.fit import DoesNotFitError
from amalia_local.i18n import Translator
from amalia_local.store import catalogue

NNBSP = "\u202f"
# a size as printed: "5,6 GB", "704,6 MB", "999 B"
SIZE = re.compile(r"\d[\d.,\u202f]* [kMGT]?B\b")


def sizes(text: str) -> list[str]:
    return SIZE.findall(text)


@pytest.mark.parametrize(
    ("lang", "size", "context"),
    [
        # 5,6 GB; a four-digit context without a separator
        ("pt", r"\d+,\d [kMGT]B", "com 8192 tokens"),
        ("en", r"[\d,]+\.\d [kMGT]B", "at 8,192 tokens"),
    ],
)
def test_doctor_writes_sizes_and_contexts_as_the_language_does(amalia, lang, size, context):
    result = amalia("--lang", lang, "doctor")
    assert result.returncode == 0, result.stderr
    found = [s for s in sizes(result.stdout) if not s.endswith(" B")]
    assert len(found) > 10
    assert all(re.fullmatch(size, s) for s in found), found
    assert context in result.stdout
    if lang == "pt":
        assert "8,192" not in result.stdout


def _row(text: str, name: str) -> list[str]:
    [line] = [line for line in text.splitlines() if line.startswith(name + " ")]
    return re.split(r"\s{2,}", line.strip())


def test_list_available_follows_the_language(amalia):
    pt = amalia("--lang", "pt", "list", "--available")
    assert pt.returncode == 0, pt.stderr
    assert _row(pt.stdout, "amalia:q4_k_m")[1:3] == ["5,6 GB", "7,9 GB"]
    assert not [s for s in sizes(pt.stdout) if "." in s]
    en = amalia("--lang", "en", "list", "--available")
    assert _row(en.stdout, "amalia:q4_k_m")[1:3] == ["5.6 GB", "7.9 GB"]


def test_json_stays_plain_numbers_in_portuguese(amalia):
    data = json.loads(amalia("--lang", "pt", "list", "--available", "--json").stdout)
    amalia_q4 = next(d for d in data if d["name"] == "amalia:q4_k_m")
    assert isinstance(amalia_q4["size"], int) and isinstance(amalia_q4["ram_needed"], int)
    assert amalia_q4["n_ctx"] == 8192


def test_info_follows_the_language(amalia, tiny_model):
    pt = amalia("--lang", "pt", "info", str(tiny_model))
    assert pt.returncode == 0, pt.stderr
    # 1,121,120 parameters: grouped with a narrow no-break space from five digits on
    assert f"1,12M (1{NNBSP}121{NNBSP}120)" in pt.stdout
    assert "32,00" in pt.stdout and "4,5 MB" in pt.stdout
    assert "RAM com 512 tokens" in pt.stdout
    en = amalia("--lang", "en", "info", str(tiny_model))
    assert "1.12M (1,121,120)" in en.stdout
    assert "32.00" in en.stdout and "4.5 MB" in en.stdout


def test_tokenize_total_follows_the_language(amalia, tiny_model):
    text = "olá " * 3000
    pt = amalia("--lang", "pt", "tokenize", str(tiny_model), text)
    assert pt.returncode == 0, pt.stderr
    count = len(pt.stdout.splitlines()) - 2  # header and total
    assert count >= 10_000
    assert pt.stdout.splitlines()[-1] == f"{count // 1000}{NNBSP}{count % 1000:03d} tokens"
    en = amalia("--lang", "en", "tokenize", str(tiny_model), text)
    assert en.stdout.splitlines()[-1] == f"{count:,} tokens"


def test_does_not_fit_error_is_written_in_the_readers_language():
    cat = catalogue.load()
    big = fit.catalogue_facts(cat.get("amalia"), cat.get("amalia").quant("q8_0"))
    try:
        fit.ensure_fits(big, 16_384, 10**9 // 2)
    except DoesNotFitError as exc:
        error = exc
    else:
        raise AssertionError("a 9B model at Q8_0 fits in 0.5 GB?")
    pt = Translator("pt").t(error.key, **error.params)
    assert f"com 16{NNBSP}384 tokens" in pt and "500,0 MB" in pt
    assert not [s for s in sizes(pt) if "." in s], pt
    en = Translator("en").t(error.key, **error.params)
    assert "at 16,384 tokens" in en and "500.0 MB" in en
