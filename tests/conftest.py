"""Shared fixtures: generated tiny GGUF models, the real SmolLM2 GGUF, a CLI runner."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fetch_smollm import ensure_smollm
from tiny_gguf import TinySpec, write_tiny_gguf
from user_process import run_as_user, user_env

from amalia_local.engine import Engine, LoadOptions
from amalia_local.engine.llama_log import LlamaLogSink


def pytest_configure(config: pytest.Config) -> None:
    """Ctrl-C as a user's terminal gives it, whoever started the suite.

    A shell starts a background job (``cmd &``, CI started from a script) with SIGINT
    ignored, and every process it starts inherits that: the tests that press Ctrl-C in a
    child (``run``, ``quant``) then wait for answers nobody interrupts. A terminal gives
    programs the default; so do these tests' children, once this process has a handler.
    """
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def tiny_model(model_dir: Path) -> Path:
    """Scripted: always answers 'Olá, aç€!' then <|im_end|> under greedy decoding."""
    return write_tiny_gguf(model_dir / "tiny-scripted.gguf")


@pytest.fixture(scope="session")
def random_model(model_dir: Path) -> Path:
    return write_tiny_gguf(model_dir / "tiny-random.gguf", TinySpec(scripted=False))


@pytest.fixture(scope="session")
def templateless_model(model_dir: Path) -> Path:
    return write_tiny_gguf(model_dir / "tiny-no-template.gguf", TinySpec(chat_template=None))


@pytest.fixture(scope="session")
def smollm() -> Path:
    return ensure_smollm()


@pytest.fixture
def llama_log(tmp_path: Path) -> Iterator[LlamaLogSink]:
    with LlamaLogSink(tmp_path / "llama.log") as sink:
        yield sink


@pytest.fixture
def open_engine(llama_log: LlamaLogSink) -> Iterator[Callable[..., Engine]]:
    engines: list[Engine] = []

    def _open(path: Path, **options: int) -> Engine:
        engine = Engine.open(str(path), LoadOptions(**options), llama_log)
        engines.append(engine)
        return engine

    yield _open
    for engine in engines:
        engine.close()


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    return user_env(tmp_path / "user", AMALIA_HOME=str(tmp_path / "home"))


@pytest.fixture
def amalia(cli_env: dict[str, str]) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the real CLI in a subprocess, as a user would (``python -m amalia_local``),
    from the user's folder, so the package imported is the installed one."""

    def _run(
        *args: str,
        stdin: str | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 300,
    ) -> subprocess.CompletedProcess[str]:
        return run_as_user(
            [sys.executable, "-m", "amalia_local", *args],
            {**cli_env, **(env or {})},
            stdin=stdin,
            timeout=timeout,
        )

    return _run
