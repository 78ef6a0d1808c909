"""What Ollama's API costs over the OpenAI one on ``amalia serve``: the same request
(greedy, a short answer, the prompt cached after the first) sent to ``/v1/chat/completions``
and to ``/api/chat``, alternating, streamed and not, and the model listings side by side.

Reported per path: the median wall time of a whole non-streamed answer, the median time
to the first streamed line of text, and the median time of ``/v1/models`` against
``/api/tags``. Both paths share the key check, parsing, host and decode loop; the
difference is the shape of the answer (NDJSON and Ollama's fields).

    python tests/benchmarks/bench_ollama.py [MODEL.gguf] [--reps 20] [--threads 2]

MODEL defaults to the SmolLM2-135M GGUF the tests fetch (tests/.models/).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench_serve import start_amalia
from fetch_smollm import ensure_smollm

MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]
TOKENS = 8


def openai_body(model: str, stream: bool) -> dict:
    return {
        "model": model,
        "messages": MESSAGES,
        "temperature": 0,
        "max_tokens": TOKENS,
        "stream": stream,
    }


def ollama_body(model: str, stream: bool) -> dict:
    options = {"temperature": 0, "num_predict": TOKENS}
    return {"model": model, "messages": MESSAGES, "options": options, "stream": stream}


def whole(client: httpx2.Client, url: str, body: dict) -> float:
    start = time.perf_counter()
    client.post(url, json=body).raise_for_status()
    return time.perf_counter() - start


def first_text(client: httpx2.Client, url: str, body: dict, marker: str) -> float:
    """Seconds to the first line carrying text (SSE's or NDJSON's)."""
    start = time.perf_counter()
    first = 0.0
    with client.stream("POST", url, json=body) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if not first and marker in line and '"content": ""' not in line:
                first = time.perf_counter() - start
    return first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", type=Path)
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    model = args.model or ensure_smollm()
    with tempfile.TemporaryDirectory() as home:
        server = start_amalia(model, 1, args.threads, home)
        root = server.base.removesuffix("/v1")
        try:
            times: dict[str, list[float]] = {}
            with httpx2.Client(timeout=600) as client:
                for path, body in (
                    ("/v1/chat/completions", openai_body),
                    ("/api/chat", ollama_body),
                ):
                    whole(client, root + path, body(server.model, False))  # warm the cache
                for _ in range(args.reps):
                    for name, path, body, marker in (
                        ("openai", "/v1/chat/completions", openai_body, '"content"'),
                        ("ollama", "/api/chat", ollama_body, '"content"'),
                    ):
                        url = root + path
                        times.setdefault(f"{name} whole", []).append(
                            whole(client, url, body(server.model, False))
                        )
                        times.setdefault(f"{name} first text", []).append(
                            first_text(client, url, body(server.model, True), marker)
                        )
                    for name, path in (("openai", "/v1/models"), ("ollama", "/api/tags")):
                        start = time.perf_counter()
                        client.get(root + path).raise_for_status()
                        times.setdefault(f"{name} listing", []).append(time.perf_counter() - start)
        finally:
            server.stop()
    print(f"{model.name}, {args.reps} reps, {TOKENS} tokens, threads {args.threads}")
    for label, values in times.items():
        print(f"  {label:<20} median {statistics.median(values) * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
