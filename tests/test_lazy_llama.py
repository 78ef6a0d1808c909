"""Commands that run no model never load libllama (0.3 s of every start-up, for nothing).

Each command runs in a fresh interpreter, through the real ``amalia`` entry point, and
reports afterwards whether ``llama_cpp`` was ever imported.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from tiny_gguf import ANSWER_TEXT
from user_process import user_cwd

# Runs the CLI as `amalia` does, then says whether llama_cpp got imported on the way.
PROBE = """
import sys
from amalia_local.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
sys.stdout.flush()
print("LLAMA " + ("LOADED" if "llama_cpp" in sys.modules else "NOT LOADED"), file=sys.stderr)
sys.exit(code)
"""


def probe(cli_env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=cli_env,
        cwd=user_cwd(cli_env),
        timeout=120,
    )


def llama_loaded(result: subprocess.CompletedProcess) -> bool:
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("LLAMA "), result.stderr
    return last == "LLAMA LOADED"


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("--help",), 0),
        (("run", "--help"), 0),
        (("list",), 0),
        (("list", "--available", "--json"), 0),
        (("show", "nothing-here"), 1),
        (("pull", "amalia", "--offline"), 1),
        (("rm", "nothing-here", "--yes"), 1),
        (("doctor", "--help"), 0),
    ],
)
def test_commands_without_a_model_do_not_load_llama(cli_env, args, code):
    """Each command ran to its own end (help printed, a missing model named), not to an
    import error that would also leave llama.cpp unloaded."""
    result = probe(cli_env, *args)
    assert result.returncode == code, result.stderr
    assert (result.stdout if code == 0 else result.stderr.splitlines()[0]).strip()
    assert not llama_loaded(result)


def test_show_and_rm_of_an_installed_model_do_not_load_llama(amalia, cli_env, tiny_model):
    imported = amalia("import", str(tiny_model), "--name", "tiny")
    assert imported.returncode == 0, imported.stderr
    shown = probe(cli_env, "show", "tiny")
    assert shown.returncode == 0, shown.stderr
    assert "tiny" in shown.stdout
    assert not llama_loaded(shown)
    listed = probe(cli_env, "list")
    assert "tiny" in listed.stdout and not llama_loaded(listed)
    removed = probe(cli_env, "rm", "tiny", "--yes")
    assert removed.returncode == 0, removed.stderr
    assert not llama_loaded(removed)


def test_the_probe_sees_llama_when_a_model_runs(cli_env, tiny_model):
    """The probe itself can fail: a command that runs a model does load llama.cpp."""
    result = probe(cli_env, "run", str(tiny_model), "Olá", "--ctx", "256", "--temperature", "0")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ANSWER_TEXT + "\n"
    assert llama_loaded(result)


def test_engine_imports_that_clients_and_the_converter_use_do_not_load_llama():
    code = (
        "import sys\n"
        "import amalia_local.remote.model, amalia_local.remote.client\n"
        "import amalia_local.services.run, amalia_local.services.chat\n"
        "import amalia_local.tui.app, amalia_local.tui.run\n"
        "import convert.tokenizer, convert.prefix_rule, convert.hparams\n"
        "from amalia_local.engine import Message, SamplingOptions, ReplyStats, StopReason\n"
        "print('llama_cpp' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd="."
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
