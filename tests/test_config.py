"""Settings round-trip through config.toml and survive odd text."""

from __future__ import annotations

import pytest

from amalia_local.config import Config
from amalia_local.errors import AmaliaError


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


def test_invalid_file_is_a_clear_error(tmp_path):
    (tmp_path / "config.toml").write_text("temperature = = 1\n", encoding="utf-8")
    with pytest.raises(AmaliaError) as info:
        Config.load(tmp_path)
    assert info.value.key == "error.config_invalid"


def test_unknown_keys_are_ignored(tmp_path):
    (tmp_path / "config.toml").write_text('future_setting = 3\nmodel = "x.gguf"\n')
    assert Config.load(tmp_path).model == "x.gguf"
