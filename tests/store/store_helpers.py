"""Fixtures for the model store: a fake Hub on 127.0.0.1 and a store pointed at it."""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fake_hub import FakeHub

from amalia_local.store import ModelStore
from amalia_local.store.hub import HubSettings

# The catalogue's default entry, served by the fake Hub with the tiny model's bytes.
AMALIA_REPO = "teex-pt/AMALIA-9B-0626-DPO-GGUF"
AMALIA_FILE = "AMALIA-9B-0626-DPO-Q4_K_M.gguf"


@pytest.fixture(scope="session")
def model_bytes(tiny_model: Path) -> bytes:
    """A real, loadable GGUF (4.5 MB): what the fake Hub serves."""
    return tiny_model.read_bytes()


@pytest.fixture
def fake_hub(model_bytes: bytes) -> Iterator[FakeHub]:
    hub = FakeHub()
    hub.add(AMALIA_REPO, AMALIA_FILE, model_bytes)
    hub.add("someone/tiny-GGUF", "tiny-Q4_K_M.gguf", model_bytes)
    hub.add("someone/tiny-GGUF", "tiny-Q8_0.gguf", model_bytes + b"\0" * 32)
    hub.add("someone/tiny-GGUF", "README.md", b"# tiny\n")
    hub.start()
    yield hub
    hub.stop()


@pytest.fixture
def hub_env(fake_hub: FakeHub, cli_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """CLI environment: AMALIA_HOME and HF_HOME in tmp, HF_ENDPOINT at the fake Hub."""
    env = {k: v for k, v in cli_env.items() if not k.startswith(("HF_", "HUGGING"))}
    env.update(HF_ENDPOINT=fake_hub.endpoint, HF_HOME=str(tmp_path / "hf"))
    return env


@pytest.fixture
def store(hub_env: dict[str, str]) -> ModelStore:
    """An in-process store seeing exactly what the CLI subprocesses see."""
    return ModelStore.open(environ=hub_env)


@pytest.fixture
def run_amalia(amalia, hub_env) -> Callable[..., object]:
    def _run(*args: str, env: dict[str, str] | None = None, **kw: object):
        return amalia(*args, env={**hub_env, **(env or {})}, **kw)

    return _run


def index_models(env: dict[str, str]) -> list[dict]:
    path = Path(env["AMALIA_HOME"]) / "data" / "models" / "index.json"
    if not path.exists():
        return []
    return json.loads(path.read_text(encoding="utf-8"))["models"]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def offline_settings(env: dict[str, str]) -> HubSettings:
    return HubSettings.resolve(env, offline_flag=True)
