"""Settings round-trip through config.toml, survive odd text, and a wrong value is one
line that names the file, the key, the value and what was expected."""

from __future__ import annotations

import math

import pytest

from amalia_local.config import Config
from amalia_local.errors import AmaliaError


def _write(tmp_path, text: str) -> None:
    (tmp_path / "config.toml").write_text(text, encoding="utf-8")


def test_defaults_when_missing(tmp_path):
    assert Config.load(tmp_path) == Config()


def test_round_trip_with_awkward_text(tmp_path):
    config = Config(
        model="/modelos/amália.gguf",
        system_prompt='Diz "olá"\n\tsê breve \\ ok',
        temperature=0.2,
        max_tokens=300,
        offline=True,
        language="pt",
    )
    config.save(tmp_path)
    assert Config.load(tmp_path) == config
    assert [p.name for p in tmp_path.iterdir()] == ["config.toml"]  # no temporary file
    assert (tmp_path / "config.toml").stat().st_mode & 0o777 == 0o600  # the user's own


# Every character class a TOML basic string treats apart: all C0 controls (escaped as
# \b \t \n \f \r or \uXXXX), DEL, the quote and the backslash, Latin-1 and other BMP text,
# astral characters. Lone surrogates cannot be written in TOML (nor in UTF-8): see below.
_EVERY_CLASS = (
    "".join(chr(c) for c in range(0x20))
    + "\x7f"
    + '"\\\'\'\'"""'
    + "ção ñ ß € — “aspas” \u00a0\u2028\u2029\ufeff\ufffd"
    + "😀 \U0001d54f \U0010ffff"
)


@pytest.mark.parametrize("char", list(_EVERY_CLASS))
def test_every_character_survives_a_save(tmp_path, char):
    config = Config(system_prompt=f"a{char}b", model=char)
    config.save(tmp_path)
    assert Config.load(tmp_path) == config


def test_a_system_prompt_with_an_escape_sequence_survives(tmp_path):
    # A prompt pasted from a terminal: ESC [ 1 m. Saved, it made the next load fail.
    config = Config(system_prompt="\x1b[1mnegrito\x1b[0m e \x00 \x08 \x0c \x7f")
    config.save(tmp_path)
    assert Config.load(tmp_path) == config


def test_lone_surrogates_become_replacement_characters_when_saved(tmp_path):
    """Python text can hold surrogates (from ``surrogateescape``); TOML and UTF-8 cannot.
    A pair is the character it means; a lone one is saved as U+FFFD, so saving the
    settings never fails over one character and the file stays readable."""
    Config(system_prompt="a\ud800b \ud83d\ude00 \udfff").save(tmp_path)
    assert Config.load(tmp_path).system_prompt == "a\ufffdb \U0001f600 \ufffd"


def test_invalid_file_is_a_clear_error(tmp_path):
    _write(tmp_path, "temperature = = 1\n")
    with pytest.raises(AmaliaError) as info:
        Config.load(tmp_path)
    assert info.value.key == "error.config_invalid"


def test_unknown_keys_are_returned_to_be_reported(tmp_path):
    _write(tmp_path, 'future_setting = 3\nmodel = "x.gguf"\n[tabela]\nx = 1\n')
    config, unknown = Config.read(tmp_path)
    assert config.model == "x.gguf"
    assert unknown == ("future_setting", "tabela")


def _refused(tmp_path, text: str) -> AmaliaError:
    _write(tmp_path, text)
    with pytest.raises(AmaliaError) as info:
        Config.load(tmp_path)
    return info.value


def test_a_string_false_is_not_offline(tmp_path):
    # It was: any non-empty string is truthy, so "false" turned offline mode on.
    error = _refused(tmp_path, 'offline = "false"\n')
    assert error.key == "error.config_value"
    assert str(error) == (
        f'the settings file {tmp_path / "config.toml"}: offline = "false" is not valid;'
        " expected true or false (without quotes)"
    )


def test_a_string_number_is_refused_in_portuguese_too(tmp_path):
    from amalia_local.i18n import Translator

    error = _refused(tmp_path, 'state_cache_gb = "4"\n')
    assert Translator("pt").t(error.key, **error.params) == (
        f'o ficheiro de configuração {tmp_path / "config.toml"}: state_cache_gb = "4"'
        " não é válido; esperava-se um número, no mínimo 0 (sem aspas)"
    )


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ("offline = 1", "offline"),
        ("threads = true", "threads"),  # bool is an int to Python: not here
        ("threads = 0", "threads"),
        ("threads = 2.5", "threads"),
        ('threads = "2"', "threads"),
        ("n_ctx = 0", "n_ctx"),
        ("n_ctx = -512", "n_ctx"),
        ("max_tokens = 0", "max_tokens"),
        ("gpu_layers = -2", "gpu_layers"),
        ("gpu_layers = false", "gpu_layers"),
        ("state_cache_gb = -1", "state_cache_gb"),
        ("state_cache_gb = nan", "state_cache_gb"),
        ("state_cache_gb = inf", "state_cache_gb"),
        ("state_cache_gb = true", "state_cache_gb"),
        ("temperature = -0.1", "temperature"),
        ("temperature = 5.5", "temperature"),
        ("top_p = 1.5", "top_p"),
        ("top_p = -0.5", "top_p"),
        ('kv_type = "q5_1"', "kv_type"),
        ("kv_type = 8", "kv_type"),
        ('language = "fr"', "language"),
        ("model = 3", "model"),
        ('model = ""', "model"),
        ("system_prompt = [1, 2]", "system_prompt"),
        ("[model]\nx = 1", "model"),
        ("offline = 1979-05-27", "offline"),
    ],
)
def test_a_wrong_value_names_the_key(tmp_path, line, key):
    error = _refused(tmp_path, f"{line}\n")
    assert error.key == "error.config_value"
    assert error.params["setting"] == key
    message = str(error)
    assert "\n" not in message and str(tmp_path / "config.toml") in message
    assert message.count(key) >= 1


def test_a_long_wrong_value_is_shortened_to_one_line(tmp_path):
    error = _refused(tmp_path, "model = [" + ", ".join(['"linha\\nlonga"'] * 200) + "]\n")
    assert len(str(error)) < 300 and "\n" not in str(error)


def test_good_values_are_kept_with_their_types(tmp_path):
    _write(
        tmp_path,
        "temperature = 1\ntop_p = 1\nstate_cache_gb = 0\nthreads = 1\ngpu_layers = -1\n"
        'kv_type = "Q8_0"\nlanguage = "pt"\noffline = false\nsystem_prompt = ""\n',
    )
    config = Config.load(tmp_path)
    assert config.temperature == 1.0 and isinstance(config.temperature, float)
    assert isinstance(config.top_p, float) and isinstance(config.state_cache_gb, float)
    assert (config.threads, config.gpu_layers, config.kv_type) == (1, -1, "q8_0")
    assert config.language == "pt" and config.offline is False and config.system_prompt == ""
    assert not math.isnan(config.state_cache_gb)


def test_wrong_value_ends_run_with_one_line(amalia, cli_env, tiny_model):
    from pathlib import Path

    config_dir = Path(cli_env["AMALIA_HOME"]) / "config"
    config_dir.mkdir(parents=True)
    (config_dir / "config.toml").write_text('state_cache_gb = "4"\n', encoding="utf-8")
    result = amalia("run", str(tiny_model), "Olá")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        f'amalia: the settings file {config_dir / "config.toml"}: state_cache_gb = "4"'
        " is not valid; expected a number, at least 0 (without quotes)\n"
    )


def test_unknown_key_is_a_warning_not_an_error(amalia, cli_env):
    from pathlib import Path

    config_dir = Path(cli_env["AMALIA_HOME"]) / "config"
    config_dir.mkdir(parents=True)
    (config_dir / "config.toml").write_text("temprature = 0.2\n", encoding="utf-8")
    result = amalia("list")
    assert result.returncode == 0, result.stderr
    assert result.stderr == (
        f"amalia: warning: the settings file {config_dir / 'config.toml'} has a setting"
        " this version does not know, ignored: temprature\n"
    )


# Counts the opens of config.toml with an audit hook (the interpreter's own record of
# every open), then runs the real CLI: what is observed is the file being opened.
_COUNT_OPENS = """
import sys
opened = []
def hook(event, args):
    if event == "open" and str(args[0]).endswith("config.toml"):
        opened.append(args[0])
sys.addaudithook(hook)
from amalia_local.cli import main
code = main(sys.argv[1:])
print("config.toml opened", len(opened), file=sys.stderr)
sys.exit(code)
"""


def test_run_reads_the_settings_once(cli_env, tiny_model):
    import subprocess
    import sys
    from pathlib import Path

    Config(temperature=0.0, max_tokens=2).save(Path(cli_env["AMALIA_HOME"]) / "config")
    result = subprocess.run(
        [sys.executable, "-c", _COUNT_OPENS, "run", str(tiny_model), "Olá", "--no-save"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=cli_env,
        input="",
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[-1] == "config.toml opened 1"
