"""``python -m amalia_local.bundle.smoke DIR STATUS``: why the install's last test failed.

``install.sh`` ends by loading the bundled model and generating one token in a child
process. When that child dies on a signal, the usual cause is a llama.cpp compiled for
a newer processor (SIGILL, "illegal instruction"): this names the instructions the
build needs and this processor lacks, in one line, in Portuguese and English (the
person at an air-gapped PC may read either). It imports no llama.cpp, which may be the
very thing that crashed, and reads the processor with ``cpuid`` (:mod:`cpu_features`).
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from amalia_local import cpu_features
from amalia_local.bundle import manifest as manifest_module
from amalia_local.errors import AmaliaError
from amalia_local.i18n import Translator

# Windows reports a crash as an NTSTATUS exit code instead of a signal.
_WINDOWS_CRASHES = {0xC000001D: "SIGILL", 0xC0000005: "SIGSEGV"}


def crash_signal(status: int) -> str | None:
    """The signal name behind a shell exit status (128 + N), or None for a plain exit."""
    windows = _WINDOWS_CRASHES.get(status & 0xFFFFFFFF)
    if windows:
        return windows
    if 128 < status < 128 + 65:
        try:
            return signal.Signals(status - 128).name
        except ValueError:
            return f"signal {status - 128}"
    return None


def explain(root: Path, status: int, present: dict[str, bool]) -> tuple[str, dict[str, object]]:
    """The message key and its parameters for a failed smoke test."""
    name = crash_signal(status)
    if name is None:
        return "bundle.smoke_failed", {"code": status}
    try:
        build = manifest_module.load(root).llama_build
    except AmaliaError:
        build = None
    lacking = cpu_features.missing(build.requires, present) if build is not None else []
    if lacking:
        return "bundle.smoke_missing", {"features": ", ".join(lacking), "signal": name}
    have = " ".join(f for f, ok in present.items() if ok) or "-"
    return "bundle.smoke_signal", {"signal": name, "present": have}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2 or not args[1].lstrip("-").isdigit():
        print("usage: python -m amalia_local.bundle.smoke BUNDLE_DIR EXIT_STATUS", file=sys.stderr)
        return 2
    key, params = explain(Path(args[0]), int(args[1]), cpu_features.features())
    pt, en = Translator("pt").t(key, **params), Translator("en").t(key, **params)
    print(f"amalia: {pt} / {en}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
