"""Windows from Linux: cross-build time, sizes, speed under wine against native, install time.

    python tests/benchmarks/bench_windows.py BUNDLE_DIR [--build full|ci|none] [--runs 3]

BUNDLE_DIR is a Windows bundle made with ``amalia bundle create ... --platform win_amd64
--python 3.12`` holding SmolLM2 as ``smollm`` (the tests' win_bundle fixture makes one).
``--build`` compiles the Windows wheel again into a fresh cache with ccache disabled, so
the figure is a first build's: ``full`` (every variant) or ``ci`` (x64 and haswell).

Printed side by side: generation tokens/s of the same greedy request under wine (the
bundle's wheel, embeddable CPython 3.12.9) and native (this checkout's llama-cpp-python),
expected near 1.0 since wine runs the same machine code; the install script's time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "windows")]

from wine_helpers import Wine, build_windows_wheel, embeddable_python, windows_path  # noqa: E402

from amalia_local.bundle import windows_build  # noqa: E402

SMOLLM = ROOT / "tests" / ".models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
PROMPT = "Escreve um texto sobre a história de Lisboa."
ARGS = ("--temperature", "0", "--max-tokens", "128", "--json", "--no-save")


def mib(path: Path) -> str:
    size = sum(p.stat().st_size for p in path.rglob("*")) if path.is_dir() else path.stat().st_size
    return f"{size / 2**20:.1f} MiB"


def build(kind: str) -> None:
    variants = windows_build.ALL_VARIANTS if kind == "full" else windows_build.SMALL_VARIANTS
    os.environ["CCACHE_DISABLE"] = "1"
    with tempfile.TemporaryDirectory() as cache:
        started = time.monotonic()
        wheel = build_windows_wheel(Path(cache), variants)
        seconds = time.monotonic() - started
        print(
            f"cross-build ({kind}, {len(variants)} variants): {seconds:.0f} s, wheel {mib(wheel)}"
        )


def speed(stdout: str) -> float:
    return float(json.loads(stdout)["stats"]["generation_tokens_per_second"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--build", choices=("full", "ci", "none"), default="none")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if args.build != "none":
        build(args.build)
    wheel = next((args.bundle / "wheels").glob("llama_cpp_python-*win_amd64.whl"))
    print(f"bundle {mib(args.bundle)}, llama-cpp-python wheel {mib(wheel)}")

    python = embeddable_python()
    with tempfile.TemporaryDirectory() as tmp:
        wine = Wine(Path(tmp) / "prefix", Path(tmp) / "João Sá")
        wine.run([str(python), "-c", "pass"], timeout=300)
        home = windows_path(wine.home / "amalia-home")
        started = time.monotonic()
        done = wine.run(
            [str(python), "-P", windows_path(args.bundle / "install.py"), "--into",
             windows_path(wine.home / "amalia")],
            cwd=args.bundle, timeout=3600, AMALIA_HOME=home,
        )  # fmt: skip
        install = time.monotonic() - started
        if done.returncode != 0:
            sys.exit(done.stdout[-2000:] + done.stderr[-2000:])
        print(f"install.py under wine (verify, folder, pip, import, smoke test): {install:.1f} s")
        launcher = windows_path(wine.home / "amalia" / "amalia.py")
        under_wine, native = [], []
        for _ in range(args.runs):
            ran = wine.run(
                [
                    str(python),
                    "-P",
                    launcher,
                    "run",
                    "smollm",
                    PROMPT,
                    *ARGS,
                    "--threads",
                    str(args.threads),
                ],
                AMALIA_HOME=home,
            )
            under_wine.append(speed(ran.stdout))
            here = subprocess.run(
                [sys.executable, "-m", "amalia_local", "run", str(SMOLLM), PROMPT, *ARGS,
                 "--threads", str(args.threads)],
                capture_output=True, text=True, check=True, cwd=tmp,
            )  # fmt: skip
            native.append(speed(here.stdout))
        w, n = statistics.median(under_wine), statistics.median(native)
        print(
            f"generation tokens/s, median of {args.runs}: wine {w:.1f}  native {n:.1f}  "
            f"ratio {w / n:.2f}"
        )


if __name__ == "__main__":
    main()
