"""amalia-local on Windows, under wine: a bundle installed by its install.py, then used.

The Windows CPython (embeddable 3.12.9) runs the installer from the bundle; it has no
venv module, so the installer takes its plain-folder layout, as it would on such a
Python on a PC. Everything then runs as ``amalia.cmd`` runs it, from a user folder
named ``João Sá``; pipes carry the ANSI code page (cp1252), as on a real Windows.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from pathlib import Path

from user_process import run_as_user, user_env
from wine_helpers import WINE, windows_path

from amalia_local.conversations import ConversationStore

GREEDY = ("--temperature", "0", "--seed", "1", "--max-tokens", "24", "--threads", "2")
QUESTION = "Qual é a capital de Portugal?"


def test_the_install_script_installs_the_bundle_end_to_end(win_install) -> None:
    target, output = win_install
    for step in range(1, 6):
        assert f"amalia: {step}/5 " in output
    assert "files of the bundle verified" in output or "ficheiros do pacote verificados" in output
    assert "smollm" in output and "pronto / done" in output
    assert (target / "amalia.cmd").is_file() and (target / "site-packages" / "llama_cpp").is_dir()
    launcher = (target / "amalia.cmd").read_bytes()
    assert launcher.startswith(b"@echo off\r\n") and b"-P" in launcher


def test_the_same_greedy_tokens_as_on_linux(
    win_amalia, linux_same_variants: Path, smollm: Path, tmp_path: Path
) -> None:
    """The same question, greedy, under wine and on Linux with the portable build's same
    CPU variants (haswell on this machine, both sides, as doctor shows)."""
    windows = win_amalia("run", "smollm", QUESTION, "--system", "", *GREEDY, "--no-save")
    assert windows.returncode == 0, windows.stderr[-2000:]
    env = user_env(tmp_path / "linux-user", AMALIA_HOME=str(tmp_path / "home"))
    linux = run_as_user(
        [str(linux_same_variants), "-P", "-m", "amalia_local", "run", str(smollm), QUESTION,
         "--system", "", *GREEDY, "--no-save"],
        env,
        timeout=300,
    )  # fmt: skip
    assert linux.returncode == 0, linux.stderr
    print(f"\nwine:  {windows.stdout!r}\nlinux: {linux.stdout!r}")
    assert windows.stdout.strip() and windows.stdout == linux.stdout


def test_doctor_names_the_cpu_variant_loaded(win_amalia) -> None:
    done = win_amalia("doctor", "--lang", "en")
    assert done.returncode == 0, done.stderr[-2000:]
    backend = next(line for line in done.stdout.splitlines() if "CPU backend" in line)
    print(backend)
    assert "haswell" in backend or "x64" in backend
    assert "Windows" in done.stdout
    assert done.stderr == "", "llama.cpp's log goes to the log file, not the console"


def test_list_and_info(win_amalia) -> None:
    listed = win_amalia("list", "--lang", "pt")
    assert listed.returncode == 0, listed.stderr[-2000:]
    assert "smollm" in listed.stdout
    info = win_amalia("info", "smollm", "--lang", "pt")
    assert info.returncode == 0, info.stderr[-2000:]
    assert "Arquitetura" in info.stdout and "llama" in info.stdout
    assert re.search(r"\d,\d MB", info.stdout), info.stdout  # pt numbers: decimal comma


def test_a_conversation_continued_in_a_new_process(win_amalia) -> None:
    first = win_amalia("run", "smollm", "Olá, chamo-me João.", "--system", "", *GREEDY)
    assert first.returncode == 0, first.stderr[-2000:]
    second = win_amalia("run", "smollm", "Como me chamo?", "--continue", *GREEDY)
    assert second.returncode == 0, second.stderr[-2000:]
    assert second.stdout.strip()


def test_a_document_in_a_folder_with_spaces_and_accents(win_amalia, wine) -> None:
    folder = wine.home / "Documentos Câmara"
    folder.mkdir(exist_ok=True)
    doc = folder / "Relatório de atividades.txt"
    doc.write_text("O mercado municipal abre às 7h e fecha às 14h.\n", encoding="utf-8")
    done = win_amalia(
        "run", "smollm", "A que horas abre o mercado?", "--file", windows_path(doc), *GREEDY,
        "--no-save",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip()


def test_bad_input_is_one_line_without_a_traceback(win_amalia, wine) -> None:
    cases = [
        ("run", "nenhum-modelo", "Olá", "--lang", "pt"),
        (
            "run",
            "smollm",
            "Olá",
            "--file",
            windows_path(wine.home / "não existe.pdf"),
            "--lang",
            "pt",
        ),
        ("run", "smollm", "Olá", "--ctx", "0", "--lang", "pt"),
    ]
    for args in cases:
        done = win_amalia(*args)
        assert done.returncode != 0, args
        assert "Traceback" not in done.stderr, done.stderr[-2000:]
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("amalia: "), (args, done.stderr)


def test_amalia_cmd_runs_in_cmd(win_install, wine) -> None:
    """What a user double-clicks or types: the launcher, through Windows' own cmd."""
    target, _ = win_install
    done = wine.run(
        ["cmd.exe", "/c", windows_path(target / "amalia.cmd"), "list", "--lang", "pt"],
        AMALIA_HOME=windows_path(wine.home / "amalia-home"),
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "smollm" in done.stdout


def test_install_cmd_without_python_says_what_is_missing(wine, win_bundle) -> None:
    """No PYTHON, no py launcher, no python on PATH: one line in each language, exit 1."""
    done = wine.run(["cmd.exe", "/c", windows_path(win_bundle / "install.cmd")], cwd=win_bundle)
    assert done.returncode == 1
    assert "64-bit Python 3.12 not found" in done.stderr
    assert "Traceback" not in done.stderr


def test_bundle_verify_on_the_windows_side(win_amalia, win_bundle) -> None:
    """The copy on the PC checked against its manifest by the installed amalia."""
    done = win_amalia("bundle", "verify", windows_path(win_bundle), "--lang", "en")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "Bundle intact" in done.stdout and "haswell, x64" in done.stdout


def _amalia_argv(win_python: Path, target: Path, *args: str) -> list[str]:
    return [WINE, str(win_python), "-P", windows_path(target / "amalia.py"), *args]


def test_ctrl_c_stops_the_answer_and_keeps_the_conversation(
    wine, win_python: Path, win_install, smollm: Path, tmp_path: Path
) -> None:
    """Ctrl-C while the answer streams: wine turns SIGINT into the console's CTRL_C_EVENT,
    as Windows does for the program in front; the same exit and saved state as on Linux."""
    target, _ = win_install
    home = tmp_path / "ctrl-c-home"
    process = subprocess.Popen(
        _amalia_argv(win_python, target, "run", windows_path(smollm),
                     "Conta uma história muito longa sobre Lisboa.", "--max-tokens", "3000",
                     "--lang", "en", "--threads", "2"),
        env=wine.env(AMALIA_HOME=windows_path(home)),
        cwd=str(wine.home), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None and process.stderr is not None
    try:
        assert process.stdout.read(8), "no answer streamed"
        sent = time.monotonic()
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
        stopped_after = time.monotonic() - sent
    finally:
        process.kill()
    stderr = process.stderr.read().decode("cp1252", "replace")
    assert process.returncode == 130, stderr[-2000:]
    assert stderr.strip() == "amalia: interrupted"
    assert stopped_after < 10, stopped_after  # against a hang, not a speed figure
    store = ConversationStore.in_dir(home / "data")
    try:
        (summary,) = store.list()
        last = store.get(summary.id).messages[-1]
    finally:
        store.close()
    assert last.stop_reason == "cancelled" and last.content


def test_platform_folders_without_amalia_home(
    wine, win_python: Path, win_install, tiny_model: Path
) -> None:
    """No AMALIA_HOME, as a user runs it: Windows' own per-user folder (platformdirs asks
    the shell for LOCAL_APPDATA), not a Unix-style dot folder."""
    target, _ = win_install

    def amalia(*args: str) -> subprocess.CompletedProcess[str]:
        argv = _amalia_argv(win_python, target, *args)
        done = wine.run(argv[1:])
        assert done.returncode == 0, done.stderr[-2000:]
        return done

    amalia("import", windows_path(tiny_model), "--name", "pequeno", "--lang", "en")
    store = json.loads(amalia("doctor", "--json").stdout)["disk"]["store"]
    print(store)
    assert re.fullmatch(r"C:\\users\\[^\\]+\\AppData\\Local\\amalia-local\\models", store)
    (local,) = (wine.prefix / "drive_c" / "users").glob("*/AppData/Local/amalia-local")
    assert any((local / "models" / "files").iterdir())
    assert "pequeno" in amalia("list", "--lang", "pt").stdout
