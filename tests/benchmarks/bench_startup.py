"""Start-up to exit of commands that run no model, side by side with bare Python.

Targets (issue 18):
- ``amalia --help`` and ``amalia list`` (empty store): median of 10 within 0.25 s of
  ``python -c pass`` measured in the same run;
- ``amalia run --endpoint`` to a local ``amalia serve``: time to first token within 50 ms
  of the server's own (the same request sent by a client that is already running).

Each command runs in a fresh process, alternating, so a busy moment of the machine hits
all sides alike. The client's time to first token is counted from the process's start
to the first byte of the answer on its standard output; the server's own, from sending
the request to the first content chunk, in this (already running) process.

    python tests/benchmarks/bench_startup.py [MODEL.gguf] [--runs 10] [--threads 2]

MODEL (for the endpoint part) defaults to the SmolLM2-135M GGUF the tests fetch.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx2

ROOT = Path(__file__).resolve().parents[2]
SMOLLM = ROOT / "tests" / ".models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
QUESTION = "What is the capital of Portugal?"
SYSTEM = "You are a helpful AI assistant."


def wall(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def first_byte(argv: list[str], env: dict[str, str]) -> float:
    """Seconds from spawning ``argv`` to the first byte on its standard output."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert process.stdout is not None
    byte = process.stdout.read(1)
    elapsed = time.perf_counter() - started
    process.stdout.read()
    if process.wait() != 0 or not byte:
        raise SystemExit(f"{' '.join(argv)} failed")
    return elapsed


def server_first_token(base: str, max_tokens: int) -> float:
    """The server's own time to first token for the request ``run --endpoint`` sends."""
    model = httpx2.get(base + "/models", timeout=30).json()["data"][0]["id"]
    body = {
        "model": model,
        "stream": True,
        "temperature": 0,
        "max_tokens": max_tokens,
        "messages": [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": QUESTION},
        ],
    }
    started = time.perf_counter()
    elapsed = None
    with httpx2.stream("POST", base + "/chat/completions", json=body, timeout=120) as response:
        for line in response.iter_lines():
            if elapsed is not None or not line.startswith("data:") or line == "data: [DONE]":
                continue
            choices = json.loads(line[5:]).get("choices") or [{}]
            if (choices[0].get("delta") or {}).get("content"):
                elapsed = time.perf_counter() - started
    if elapsed is None:
        raise SystemExit("the server sent no content")
    return elapsed


def start_server(model: Path, threads: int, home: str) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "amalia_local", "serve", str(model), "--port", "0",
         "--parallel", "1", "--threads", str(threads), "--ctx", "1024"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**os.environ, "AMALIA_HOME": home},
    )  # fmt: skip
    assert process.stdout is not None
    match = re.search(r"(http://127\.0\.0\.1:\d+/v1)", process.stdout.readline())
    if not match:
        process.kill()
        raise SystemExit("amalia serve did not start")
    return process, match.group(1)


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", type=Path, default=SMOLLM)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    # As installed (pip compiles the package): with PYTHONDONTWRITEBYTECODE set (the
    # agents' machine sets it), an editable checkout would otherwise compile every module
    # of amalia_local again at each start (30-40 ms), which no user pays.
    compileall.compile_dir(ROOT / "amalia_local", quiet=1)
    where = subprocess.run(
        [sys.executable, "-c", "import amalia_local; print(amalia_local.__file__)"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    if Path(where).is_relative_to(ROOT):
        # The target is for a copy installed as the README says: an editable install's
        # import hook makes bare Python import pathlib and re at start-up and every
        # amalia_local import slower (measured: +63 ms editable, +42-47 ms installed).
        print(f"note: {sys.executable} runs the checkout (editable install), not an installed copy")

    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "AMALIA_HOME": home}
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "amalia --help": [sys.executable, "-m", "amalia_local", "--help"],
            "amalia list": [sys.executable, "-m", "amalia_local", "list"],
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, argv in commands.items():
                times[name].append(wall(argv, env))
        bare = median_ms(times["python -c pass"])
        print(f"start-up to exit, median of {args.runs} (ms); target: within 250 ms of bare Python")
        for name, samples in times.items():
            extra = median_ms(samples) - bare
            verdict = (
                ""
                if name.startswith("python")
                else (f"  +{extra:.0f} ms  {'ok' if extra <= 250 else 'MISSED'}")
            )
            print(f"  {name:<16} {median_ms(samples):7.0f}{verdict}")

        process, base = start_server(args.model, args.threads, home)
        try:
            client = [sys.executable, "-m", "amalia_local", "run", "--endpoint", base, QUESTION,
                      "--system", SYSTEM, "--temperature", "0", "--max-tokens", "8"]  # fmt: skip
            server_first_token(base, 8)  # warm-up: the first request pays for allocations
            own, ours, bare_runs = [], [], []
            for _ in range(args.runs):
                own.append(server_first_token(base, 8))
                ours.append(first_byte(client, env))
                bare_runs.append(wall([sys.executable, "-c", "pass"], env))
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=30)
    over = median_ms(ours) - median_ms(own)
    print(f"\ntime to first token through the API, median of {args.runs} (ms)")
    print(f"  the server's own (client already running) {median_ms(own):7.0f}")
    print(
        f"  amalia run --endpoint (from process start) {median_ms(ours):7.0f}"
        f"  +{over:.0f} ms  {'ok' if over <= 50 else 'MISSED'} (target: within 50 ms)"
    )
    print(f"  of which bare Python's start-up            {median_ms(bare_runs):7.0f}")


if __name__ == "__main__":
    main()
