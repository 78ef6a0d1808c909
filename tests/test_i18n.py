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


def test_a_missing_parameter_leaves_the_placeholder_and_never_raises():
    """The error handler formats messages: a KeyError there was a traceback where one
    line was due."""
    en = Translator("en")
    assert en.t("error.model_not_found") == "model file not found: {path}"  # no params at all
    assert en.t("error.config_invalid", path="c.toml") == (
        "cannot read the settings file c.toml: {reason}"
    )
    assert en.t("error.model_not_found", path="x.gguf", extra=1) == "model file not found: x.gguf"
    assert Translator("pt").t("status.context", used="1") == "contexto 1/{size}"


def test_a_broken_template_never_raises():
    """A translator's slip (a format spec on text, a positional or attribute field) falls
    back to the template as written, never to an exception."""
    from amalia_local.errors import AmaliaError
    from amalia_local.i18n import fill

    assert fill("{n:,} tokens", {"n": "many"}) == "{n:,} tokens"
    assert fill("{n:,} tokens", {}) == "{n:,} tokens"
    assert fill("{0} e {name}", {"name": "x"}) == "{0} e {name}"
    assert fill("{name.attr}", {}) == "{name.attr}"
    assert fill("{name} {{literal}}", {"name": "x"}) == "x {literal}"
    assert fill("aberto {", {}) == "aberto {"
    assert str(AmaliaError("error.config_invalid", path="c.toml")).startswith("cannot read")


def test_the_user_is_not_addressed_as_voce():
    """pt-PT interfaces avoid "você"; the user's turn is "Eu"."""
    pt = load_catalogue("pt")
    assert pt["chat.you"] == "Eu"
    assert not [k for k, v in pt.items() if re.search(r"\bvocê\b", v, re.IGNORECASE)]


def test_the_status_line_counts_threads_in_portuguese():
    pt = Translator("pt")
    assert "threads" not in pt.t("status.threads", n="2")
    assert pt.t("status.threads", n=pt.number(2)) == "2 fios de execução"
