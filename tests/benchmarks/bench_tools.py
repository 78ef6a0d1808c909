"""What a tool grammar costs a stream: decode speed (llama-server's ``timings``) of the same
request plain, with tools answered in text (``auto``), and as a forced call (``required``).

    python tests/benchmarks/bench_tools.py MODEL.gguf [--threads 2] [--runs 3]

Starts ``amalia serve`` on 127.0.0.1 (one slot), prints one line per case: the median
tokens per second of generation and of the prompt, over ``--runs`` requests.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from server_helpers import serve_env, start_server, stop_server

TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city", "days"],
        },
    },
}


def post(url: str, body: dict) -> dict:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=600) as response:
        return json.load(response)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model", type=Path)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="bench-tools-"))
    server = start_server(
        [str(args.model), "--port", "0", "--parallel", "1", "--ctx", "2048",
         "--threads", str(args.threads)],
        serve_env(home),
        home / "err.log",
    )  # fmt: skip
    url = server.url + "/chat/completions"
    base = {"model": args.model.stem, "temperature": 0, "max_tokens": 64}
    text = [{"role": "user", "content": "Write a short poem about the sea."}]
    call = [{"role": "user", "content": "Get the weather in Paris for 3 days."}]
    cases = {
        "plain": {"messages": text},
        "tools, text answer (auto)": {"messages": text, "tools": [TOOL]},
        "tools, forced call (required)": {
            "messages": call,
            "tools": [TOOL],
            "tool_choice": "required",
            "parallel_tool_calls": True,
        },
    }
    try:
        for name, case in cases.items():
            speeds, prompts = [], []
            for _ in range(args.runs):
                # a different system prompt each run: nothing cached, the same work
                messages = [{"role": "system", "content": f"Run {len(speeds)}."}, *case["messages"]]
                timings = post(url, {**base, **case, "messages": messages})["timings"]
                speeds.append(timings["predicted_per_second"])
                prompts.append(timings["prompt_n"] / max(timings["prompt_ms"], 1e-9) * 1000)
            print(
                f"{name:32s} generation {statistics.median(speeds):6.1f} tok/s   "
                f"prompt {statistics.median(prompts):7.1f} tok/s"
            )
    finally:
        stop_server(server)


if __name__ == "__main__":
    main()
