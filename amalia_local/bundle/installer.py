"""A bundle's installation, in Python: the same code on Linux, macOS and Windows.

``install.py`` at the bundle's root puts the bundle's own amalia-local wheel on
``sys.path`` and calls :func:`main`; ``install.sh``, ``install.ps1`` and ``install.cmd``
only find a Python of the right version and run it. So the logic that must not fail on
a PC nobody here has seen is tested here, on Linux and under wine, as one program.

Steps: verify the wheels against the manifest; make the environment; install from
``wheels/`` only (``--no-index``, and ``PIP_NO_INDEX`` against a pip.conf naming an
index); verify and import the models with the installed ``amalia``; ask the model for
one token, so that a processor lacking the build's instructions stops the install
instead of the first question.

The environment is a venv made ``--without-pip`` (Debian's Python lacks ensurepip until
``python3-venv`` is installed; it has venv itself) with pip run from the bundle's pip
wheel. Where Python has no venv at all (the embeddable Windows Python), the packages go
into a plain folder instead, with an ``amalia`` launcher beside them.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from amalia_local.bundle.manifest import MODELS_DIR, Manifest
from amalia_local.bundle.manifest import load as load_manifest
from amalia_local.bundle.verify import verify
from amalia_local.errors import AmaliaError
from amalia_local.i18n import Translator

WINDOWS = sys.platform == "win32"
_STEPS = 5
# Python started with -P: nothing from the current folder (a checkout there must not
# shadow what is being installed). Not -X utf8: on Windows, amalia's output to a pipe
# stays in the ANSI code page, as the programs reading it expect.
_PYTHON_FLAGS = ("-P",)


@dataclass(frozen=True)
class Layout:
    """Where amalia-local goes and how it is started there."""

    root: Path
    venv: bool

    @property
    def python(self) -> Path:
        """The Python that runs amalia: the venv's, or the one running this."""
        if not self.venv:
            return Path(sys.executable)
        return self.root / ("Scripts/python.exe" if WINDOWS else "bin/python")

    @property
    def site(self) -> Path:
        return self.root / "site-packages"

    @property
    def launcher(self) -> Path:
        """What the user types: ``amalia`` (``amalia.exe`` / ``amalia.cmd`` on Windows)."""
        if self.venv:
            return self.root / ("Scripts/amalia.exe" if WINDOWS else "bin/amalia")
        return self.root / ("amalia.cmd" if WINDOWS else "bin/amalia")

    def amalia(self) -> list[str]:
        """The command line that runs amalia-local's CLI in this layout."""
        if self.venv:
            return [str(self.python), *_PYTHON_FLAGS, "-m", "amalia_local"]
        return [str(self.python), *_PYTHON_FLAGS, str(self.root / "amalia.py")]


def default_root() -> Path:
    return Path(os.environ.get("AMALIA_VENV") or Path.home() / ".amalia-venv")


def say(step: int, pt: str, en: str) -> None:
    print(f"amalia: {step}/{_STEPS} {pt} / {en}", flush=True)


def fail(pt: str, en: str) -> int:
    print(f"amalia: {pt}\namalia: {en}", file=sys.stderr, flush=True)
    return 1


def check_python(manifest: Manifest) -> str | None:
    """Why this Python cannot install the bundle's wheels (None: it can)."""
    have = f"{sys.version_info.major}.{sys.version_info.minor}"
    if have != manifest.target.python:
        return have
    target_windows = manifest.target.platform.startswith("win")
    if target_windows != WINDOWS:
        return f"{have} ({sys.platform})"
    return None


def make_layout(root: Path, force_folder: bool) -> Layout:
    """A venv when this Python can make one, else a plain folder."""
    if not force_folder:
        made = subprocess.run(
            [sys.executable, *_PYTHON_FLAGS, "-m", "venv", "--without-pip", str(root)],
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            check=False,
        )
        if made.returncode == 0:
            return Layout(root, venv=True)
        if "No module named venv" not in made.stderr:
            sys.stderr.write(made.stderr)
            raise InstallError("o venv falhou", "venv failed")
    layout = Layout(root, venv=False)
    layout.site.mkdir(parents=True, exist_ok=True)
    write_launchers(layout)
    return layout


def write_launchers(layout: Layout) -> None:
    """``amalia.py`` (puts the folder's packages first, then runs the CLI) and a launcher.

    The embeddable Windows Python ignores PYTHONPATH (its ``._pth`` file fixes
    ``sys.path``), so the path is set by the launcher script itself.
    """
    site = str(layout.site)
    (layout.root / "amalia.py").write_text(
        "import sys\n"
        f"sys.path.insert(0, {site!r})\n"
        "from amalia_local.cli import main\n"
        "raise SystemExit(main())\n",
        encoding="utf-8",
    )
    flags = " ".join(_PYTHON_FLAGS)
    if WINDOWS:
        command = f'"{sys.executable}" {flags} "%~dp0amalia.py" %*'
        encoding, text = _cmd_text(command)
        layout.launcher.write_text(text, encoding=encoding, newline="\r\n")
        return
    layout.launcher.parent.mkdir(parents=True, exist_ok=True)
    script = shlex.quote(str(layout.root / "amalia.py"))
    text = f'#!/bin/sh\nexec {shlex.quote(sys.executable)} {flags} {script} "$@"\n'
    layout.launcher.write_text(text, encoding="utf-8")
    layout.launcher.chmod(0o755)


def _cmd_text(command: str) -> tuple[str, str]:
    """A batch file cmd reads right: in the console's (OEM) code page, which holds the
    accents of a path such as ``C:\\Users\\João\\...\\python.exe`` on a Portuguese PC;
    else in UTF-8, switching the console to it (65001) and back around the command."""
    oem = "utf-8"
    if sys.platform == "win32":
        import ctypes

        oem = f"cp{ctypes.windll.kernel32.GetOEMCP()}"
    try:
        command.encode(oem)
        return oem, f"@echo off\n{command}\n"
    except (UnicodeEncodeError, LookupError):
        lines = [
            "@echo off",
            "setlocal",
            'for /f "tokens=2 delims=:." %%c in (\'chcp\') do set "AMALIA_CP=%%c"',
            "chcp 65001 >nul",
            command,
            'set "STATUS=%ERRORLEVEL%"',
            "chcp %AMALIA_CP% >nul",
            "exit /b %STATUS%",
        ]
        return "utf-8", "\n".join(lines) + "\n"


class InstallError(Exception):
    def __init__(self, pt: str, en: str) -> None:
        super().__init__(en)
        self.pt, self.en = pt, en


def pip_wheel(wheels: Path) -> Path:
    found = sorted(wheels.glob("pip-*.whl"))
    if not found:
        raise InstallError("falta o pip em wheels/", "pip is missing from wheels/")
    return found[-1]


def install_packages(layout: Layout, wheels: Path, version: str) -> None:
    """pip from the bundle's own wheel, into the venv or the folder, from wheels/ only."""
    pip = pip_wheel(wheels)
    command = [str(layout.python), *_PYTHON_FLAGS, str(pip / "pip"), "install"]
    command += ["--no-index", "--find-links", str(wheels), "--no-warn-script-location"]
    if not layout.venv:
        command += ["--target", str(layout.site)]
    command += [f"amalia-local=={version}"]
    if layout.venv:
        command.append("pip")  # so that the venv can update itself later, as any venv
    if subprocess.run(command, check=False).returncode != 0:
        raise InstallError("o pip falhou (mensagem acima)", "pip failed (see above)")


def run_prefix() -> list[str]:
    """``AMALIA_RUN_PREFIX``: runs the model under another command (an emulator, in tests)."""
    return shlex.split(os.environ.get("AMALIA_RUN_PREFIX", ""))


def main(here: Path, argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="install.py", description="amalia-local offline install")
    parser.add_argument("--into", type=Path, default=None, help="default: ~/.amalia-venv")
    parser.add_argument("--folder", action="store_true", help="a plain folder, not a venv")
    args = parser.parse_args(argv)
    # pip.conf naming an index cannot bring the network back; nothing may ask questions
    os.environ.update(
        PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1", HF_HUB_OFFLINE="1"
    )
    root = (args.into or default_root()).expanduser().absolute()
    try:
        return _install(here, root, args.folder)
    except InstallError as exc:
        return fail(exc.pt, exc.en)
    except AmaliaError as exc:
        pt = Translator("pt").t(exc.key, **exc.params)
        en = Translator("en").t(exc.key, **exc.params)
        return fail(pt, en)


def _install(here: Path, root: Path, force_folder: bool) -> int:
    manifest = load_manifest(here)
    wrong = check_python(manifest)
    if wrong is not None:
        want = manifest.target.python
        return fail(
            f"este pacote é para Python {want} ({manifest.target.platform}) e este é {wrong}",
            f"this bundle is for Python {want} ({manifest.target.platform}) and this is {wrong}",
        )
    say(1, "a verificar os pacotes", "verifying the packages")
    report = verify(here, skip=lambda path: path.startswith(f"{MODELS_DIR}/"))
    t = Translator().t
    for path in report.missing:
        print(t("bundle.missing", path=path), flush=True)
    for path in report.corrupted:
        print(t("bundle.corrupted", path=path), flush=True)
    if report.damaged:
        print(f"amalia: {t('bundle.preflight_damaged', path=here)}", file=sys.stderr)
        return 1
    print(t("bundle.preflight_ok", files=report.checked), flush=True)
    say(2, "a criar o ambiente", f"creating the environment: {root}")
    layout = make_layout(root, force_folder)
    say(3, "a instalar", f"installing amalia-local {manifest.amalia_local} (--no-index)")
    install_packages(layout, here / "wheels", manifest.amalia_local)
    say(4, "a verificar e importar os modelos", "verifying and importing the models")
    if subprocess.run([*layout.amalia(), "import", str(here)], check=False).returncode != 0:
        return 1
    first = manifest.models[0].name if manifest.models else None
    if first is not None:
        say(5, "a experimentar o modelo", f"trying the model: {first}")
        status = _smoke(layout, first)
        if status != 0:
            _explain(layout, here, status)
            return 1
    print(f'amalia: pronto / done:  {layout.launcher} run {first or "MODEL"} "Olá"', flush=True)
    return 0


def _smoke(layout: Layout, model: str) -> int:
    command = [*run_prefix(), *layout.amalia(), "run", model, "Olá", "--system", ""]
    command += ["--max-tokens", "1", "--temperature", "0", "--ctx", "256", "--force"]
    return subprocess.run(command, stdout=subprocess.DEVNULL, check=False).returncode


def _explain(layout: Layout, here: Path, status: int) -> None:
    """The smoke module names the missing instructions; it loads no llama.cpp."""
    if status < 0:  # a signal, as Python reports it: the shell's 128 + N
        status = 128 - status
    code = f"import sys; sys.path.insert(0, {str(layout.site)!r}); "
    code += "from amalia_local.bundle.smoke import main; "
    code += f"raise SystemExit(main([{str(here)!r}, {str(status)!r}]))"
    command = [*run_prefix(), str(layout.python), *_PYTHON_FLAGS, "-c", code]
    subprocess.run(command, check=False)
