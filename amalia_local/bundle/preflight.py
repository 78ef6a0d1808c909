"""``python -m amalia_local.bundle.preflight DIR``: check the wheels before pip runs.

``install.sh`` and ``install.ps1`` run this straight from the amalia-local wheel in the
bundle (``PYTHONPATH=wheels/amalia_local-*.whl``; pure-Python wheels are importable as
zip files), before anything is installed. So a wheel damaged on the USB stick is
named and the install stops, instead of pip failing on it or installing it. Only the
standard library and this package's dependency-free modules are imported here; the
models are verified afterwards by ``amalia import``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from amalia_local.bundle.manifest import MODELS_DIR
from amalia_local.bundle.verify import verify
from amalia_local.errors import AmaliaError
from amalia_local.i18n import Translator


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    t = Translator().t
    if len(args) != 1:
        print("usage: python -m amalia_local.bundle.preflight BUNDLE_DIR", file=sys.stderr)
        return 2
    root = Path(args[0])
    try:
        report = verify(root, skip=lambda path: path.startswith(f"{MODELS_DIR}/"))
    except AmaliaError as exc:
        print(f"amalia: {t(exc.key, **exc.params)}", file=sys.stderr)
        return 1
    for path in report.missing:
        print(t("bundle.missing", path=path))
    for path in report.corrupted:
        print(t("bundle.corrupted", path=path))
    if report.damaged:
        print(f"amalia: {t('bundle.preflight_damaged', path=root)}", file=sys.stderr)
        return 1
    print(t("bundle.preflight_ok", files=report.checked))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
