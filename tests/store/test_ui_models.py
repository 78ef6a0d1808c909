"""The chat UI's two entry points (services.models) see the store's installed models."""

from __future__ import annotations

from pathlib import Path

from amalia_local.config import Config
from amalia_local.formatting import human_bytes
from amalia_local.services.models import model_choices, resolve_model
from amalia_local.store import ModelStore


def test_ui_resolves_store_names_and_offers_installed_models(monkeypatch, tmp_path, tiny_model):
    monkeypatch.setenv("AMALIA_HOME", str(tmp_path / "home"))
    assert resolve_model(None) is None  # empty store: the first-run screen
    installed = ModelStore.open().import_file(tiny_model, "mini")
    assert resolve_model("mini") == installed.path
    assert resolve_model(None) == installed.path  # something installed: open it
    assert resolve_model(str(tiny_model)) == str(tiny_model)
    assert resolve_model("amalia") == "amalia"  # not installed: opening it says so
    choices = model_choices(Config())
    assert [(c.label, c.reference) for c in choices] == [
        (f"mini ({human_bytes(installed.size)})", installed.path)
    ]
    with_file = model_choices(Config(model=str(tiny_model)))
    assert with_file[0].reference == str(tiny_model) and len(with_file) == 2
    Path(installed.path).unlink()
    assert model_choices(Config()) == []  # vanished files are not offered
