"""The message catalogue: complete in both languages, chosen from the locale."""

from __future__ import annotations

import re

import pytest

from amalia_local.i18n import LANGUAGES, Translator, detect_language, load_catalogue


def test_every_key_exists_in_every_language():
    keys = {lang: set(load_catalogue(lang)) for lang in LANGUAGES}
    reference = keys["en"]
    for lang, found in keys.items():
        assert found == reference, f"{lang}: missing {reference - found}, extra {found - reference}"


def test_placeholders_match_across_languages():
    en = load_catalogue("en")
    for lang in LANGUAGES:
        for key, text in load_catalogue(lang).items():
            assert set(re.findall(r"{(\w+)}", text)) == set(re.findall(r"{(\w+)}", en[key])), key


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"LANG": "pt_PT.UTF-8"}, "pt"),
        ({"LANG": "pt_BR.UTF-8"}, "pt"),
        ({"LANG": "en_GB.UTF-8"}, "en"),
        ({"LANG": "C.UTF-8"}, "en"),
        ({}, "en"),
        ({"LANG": "en_US.UTF-8", "LC_ALL": "pt_PT.UTF-8"}, "pt"),
        ({"LANG": "pt_PT.UTF-8", "LC_MESSAGES": "de_DE.UTF-8"}, "en"),
        ({"LANG": "en_US.UTF-8", "AMALIA_LANG": "pt"}, "pt"),
    ],
)
def test_language_from_locale(env, expected):
    assert detect_language(env) == expected


def test_translator_formats_and_falls_back_to_key():
    assert Translator("pt").t("error.model_not_found", path="x.gguf") == (
        "ficheiro do modelo não encontrado: x.gguf"
    )
    assert Translator("en").t("no.such.key") == "no.such.key"


def test_numbers_are_written_as_each_language_writes_them():
    from amalia_local.i18n import Translator

    assert Translator("en").number(8192) == "8,192"
    assert Translator("en").number(16384) == "16,384"
    assert Translator("pt").number(8192) == "8192"
    assert Translator("pt").number(16384) == "16\u202f384"
