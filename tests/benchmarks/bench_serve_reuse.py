"""Prefix reuse in ``amalia serve`` against llama-cpp-python's server, and /health latency.

Targets (issue 19):
1. a 3-turn conversation whose first question is ~1,500 tokens: the later turns' time to
   first token at most 25% of the first turn's, and no worse than llama-cpp-python's
   server (same model, context and threads; its server reuses the previous prompt's
   prefix in its one context);
2. 4 concurrent conversations of 3 turns each: prompt tokens evaluated at most 1.2x the
   new tokens (what no earlier turn of that conversation held);
3. /health's latency (a poller every 20 ms) while the model loads, unloads, and while a
   ~3.9 MB prompt is parsed, templated and tokenized (target < 50 ms).

Batched generation with the reuse on is bench_serve.py's first table (it uses the same
server). For a small model (SmolLM2) both servers of target 1 run together and are asked
in turn, so that a shared machine's drift hits both alike; a larger model's servers run
one after the other, never together (AMALIA's shape needs ~11 GB each): wrap a run at
that shape in ``flock /tmp/amalia-shape.lock``.

    python tests/benchmarks/bench_serve_reuse.py [MODEL.gguf] [--threads 2] [--only reuse]
        [--reps 3] [--parallel 1]

llama_cpp.server needs its extras in the same environment (not a dependency of this
project): ``pip install 'llama-cpp-python[server]'``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_serve import Server, start_amalia, start_llama_cpp_server
from fetch_smollm import ensure_smollm

CTX = 4096
ANSWER_TOKENS = 32
FOLLOW_UPS = ["Summarise that in one sentence.", "Now give it a short title."]


def long_question(words: int = 1100) -> str:
    """About 1,500 tokens of varied text, then a question about it."""
    topics = ["river", "harbour", "market", "bridge", "library", "garden", "tram", "tower"]
    sentences = []
    i = 0
    while sum(len(s.split()) for s in sentences) < words:
        topic = topics[i % len(topics)]
        sentences.append(
            f"Note {i}: the old {topic} of district {i * 7 % 31} was rebuilt in {1700 + i * 3}."
        )
        i += 1
    return " ".join(sentences) + "\n\nWhich district had its tower rebuilt first?"


def ask(
    server: Server,
    messages: list[dict],
    max_tokens: int = ANSWER_TOKENS,
    client: httpx2.Client | None = None,
) -> dict:
    """One streamed chat turn: time to first token, the answer, usage and timings.

    ``client``: a kept-alive connection, as the openai client keeps one; without it each
    turn opens its own (and the client's own setup, tens of ms, counts in its time).
    """
    payload = {
        "model": server.model,
        "messages": messages,
        "max_tokens": max_tokens,
        "temperature": 0,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    opened = client or httpx2.Client(timeout=3600)
    sent = time.perf_counter()
    first = None
    parts: list[str] = []
    usage: dict = {}
    timings: dict = {}
    try:
        with opened.stream("POST", server.base + "/chat/completions", json=payload) as r:
            for line in r.iter_lines():
                if not line.startswith("data:") or line.strip() == "data: [DONE]":
                    continue
                event = json.loads(line[5:])
                for choice in event.get("choices") or []:
                    text = (choice.get("delta") or {}).get("content")
                    if text:
                        first = first or time.perf_counter()
                        parts.append(text)
                usage = event.get("usage") or usage
                timings = event.get("timings") or timings
    finally:
        if client is None:
            opened.close()
    return {
        "ttft": (first or time.perf_counter()) - sent,
        "answer": "".join(parts),
        "usage": usage,
        "timings": timings,
    }


class Chat:
    """One conversation, a turn at a time: the question, then each of FOLLOW_UPS."""

    def __init__(self, question: str) -> None:
        self.messages = [{"role": "user", "content": question}]
        self.turns: list[dict] = []

    @property
    def done(self) -> bool:
        return len(self.turns) > len(FOLLOW_UPS)

    def turn(self, server: Server, client: httpx2.Client | None = None) -> dict:
        if self.turns:
            self.messages += [
                {"role": "assistant", "content": self.turns[-1]["answer"]},
                {"role": "user", "content": FOLLOW_UPS[len(self.turns) - 1]},
            ]
        self.turns.append(ask(server, list(self.messages), client=client))
        return self.turns[-1]


def conversation(
    server: Server,
    question: str,
    report: Callable[[list[dict]], None] | None = None,
    client: httpx2.Client | None = None,
) -> list[dict]:
    chat = Chat(question)
    while not chat.done:
        chat.turn(server, client)
        if report is not None:
            report(chat.turns)
    return chat.turns


# Both servers are started together when the model is this small, and asked turn by turn
# in alternation (A's turn 1, B's turn 1, A's turn 2...), so that a shared machine's drift
# hits both alike; a larger model runs one server at a time, a whole conversation each.
TOGETHER_MAX_BYTES = 2 * 1024**3


def start(name: str, model: Path, threads: int, home: str, parallel: int = 1) -> Server:
    """``parallel``: amalia's slots; with 2+ its batch context keeps flash attention on
    (engine/batch.py), which the later turns' prompt chunks pay for on a CPU."""
    if name == "amalia serve":
        return start_amalia(model, parallel, threads, home, ctx=CTX)
    return start_llama_cpp_server(model, threads, ctx=CTX)


def multi_turn(
    model: Path, threads: int, home: str, servers: list[str], reps: int, parallel: int = 1
) -> None:
    print(
        f"1. 3-turn conversation, first question ~1,500 tokens (ctx {CTX}, {threads} threads,"
        f" amalia serve --parallel {parallel})"
    )
    print("   target: turns 2-3 time to first token <= 25% of turn 1, <= llama_cpp.server's")
    print("   (one kept-alive connection per server, as the openai client keeps)")
    print(
        f"   {'server':<18} {'rep':>3} {'turn':>4} {'prompt':>7} {'cached':>7} {'TTFT s':>8}"
        f" {'of turn 1':>9}",
        flush=True,
    )
    together = model.stat().st_size <= TOGETHER_MAX_BYTES
    later: dict[str, list[float]] = {name: [] for name in servers}
    running: dict[str, Server] = {}
    clients: dict[str, httpx2.Client] = {}
    try:
        if together:
            running = {name: start(name, model, threads, home, parallel) for name in servers}
        for rep in range(reps):
            # each repetition its own document: no server holds any of it yet
            question = f"Document {rep + 1}.\n" + long_question()
            order = servers if rep % 2 == 0 else servers[::-1]
            groups = [order] if together else [[name] for name in order]
            for group in groups:
                chats = {name: Chat(question) for name in group}
                for name in group:
                    if name not in running:
                        running[name] = start(name, model, threads, home, parallel)
                    if name not in clients:
                        clients[name] = httpx2.Client(timeout=3600)
                        ask(running[name], [{"role": "user", "content": "Hi"}], 2, clients[name])
                while not all(chat.done for chat in chats.values()):
                    for name in group:  # in turn: A's turn n, then B's
                        chats[name].turn(running[name], clients[name])
                        # each turn printed as it ends: at AMALIA's shape a side takes
                        # many minutes
                        print_turn(name, rep + 1, chats[name].turns)
                for name in group:
                    later[name] += [turn["ttft"] for turn in chats[name].turns[1:]]
                    if not together:
                        clients.pop(name).close()
                        running.pop(name).stop()
    finally:
        for client in clients.values():
            client.close()
        for server in running.values():
            server.stop()
    for name, values in later.items():
        print(
            f"   {name:<18} turns 2-3 TTFT: median {statistics.median(values) * 1000:7.1f} ms,"
            f" best {min(values) * 1000:7.1f} ms (n={len(values)})"
        )
    if len(later) == 2:
        ours, theirs = (later[name] for name in servers)
        ratio = statistics.median(ours) / statistics.median(theirs)
        print(f"   ratio of medians amalia serve / llama_cpp.server: {ratio:.2f}x (goal <= 1.0x)")
        if together:
            pairs = statistics.median(a / b for a, b in zip(ours, theirs, strict=True))
            print(f"   median of the turn-by-turn ratios: {pairs:.2f}x")


def print_turn(name: str, rep: int, turns: list[dict]) -> None:
    turn = turns[-1]
    usage = turn["usage"]
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens", "-")
    share = turn["ttft"] / turns[0]["ttft"]
    print(
        f"   {name:<18} {rep:>3} {len(turns):>4} {usage.get('prompt_tokens', 0):>7} "
        f"{cached!s:>7} {turn['ttft']:>8.3f} {share:>9.0%}",
        flush=True,
    )


def concurrent_conversations(model: Path, threads: int, home: str, parallel: int) -> None:
    print(f"\n2. 4 concurrent conversations x 3 turns, --parallel {parallel}")
    print("   target: prompt tokens evaluated <= 1.2x new tokens")
    server = start_amalia(model, parallel, threads, home, ctx=CTX)
    try:
        questions = [long_question(300 + 50 * i) for i in range(4)]
        all_turns: list[list[dict]] = [[] for _ in questions]

        def run(i: int) -> None:
            all_turns[i] = conversation(server, questions[i])

        workers = [threading.Thread(target=run, args=(i,)) for i in range(len(questions))]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    finally:
        server.stop()
    evaluated = new = 0
    for turns in all_turns:
        seen = 0
        for turn in turns:
            prompt = turn["usage"]["prompt_tokens"]
            new += prompt - seen
            seen = prompt + turn["usage"]["completion_tokens"]
            evaluated += turn["timings"]["prompt_n"]
    print(f"   new tokens {new}, evaluated {evaluated}: {evaluated / new:.2f}x")


POLLER = """
import json, sys, time, urllib.request
url = sys.argv[1]
while True:
    start = time.time()
    with urllib.request.urlopen(url, timeout=60) as response:
        loaded = json.load(response)["loaded"]
    print(json.dumps([start, time.time() - start, loaded]), flush=True)
    time.sleep(0.02)
"""


def health_latency(model: Path, threads: int, home: str) -> None:
    """/health polled from another process, so that this one building and sending a
    3.9 MB body (which holds its own GIL for a while) does not count as server latency."""
    print("\n3. /health latency (polled every 20 ms from another process), target < 50 ms")
    server = start_amalia(model, 2, threads, home, ctx=CTX, idle_unload_minutes=0.05)
    health = server.base.removesuffix("/v1") + "/health"
    poller = subprocess.Popen(
        [sys.executable, "-c", POLLER, health], stdout=subprocess.PIPE, text=True
    )
    assert poller.stdout is not None
    phases: list[tuple[str, float, float]] = []
    samples: list[list] = []
    try:
        started = time.time()
        while not samples or samples[-1][2] is not False:
            samples.append(json.loads(poller.stdout.readline()))
            if time.time() - started > 120:
                raise SystemExit("the model was not unloaded within 120 s")
        phases.append(("idle, then the idle unload", started, time.time()))
        started = time.time()
        ask(server, [{"role": "user", "content": "Hi"}], max_tokens=2)
        phases.append(("load (first request after unload)", started, time.time()))
        huge = "lorem ipsum dolor " * (3_900_000 // 18)
        body = json.dumps({"model": server.model, "messages": [{"role": "user", "content": huge}]})
        started = time.time()
        httpx2.post(
            server.base + "/chat/completions",
            content=body,
            headers={"Content-Type": "application/json"},
            timeout=600,
        )
        phases.append(("3.9 MB prompt (refused: longer than the context)", started, time.time()))
        time.sleep(0.3)
    finally:
        poller.kill()
        server.stop()
    samples += [json.loads(line) for line in poller.stdout.read().splitlines() if line.strip()]
    for name, begin, end in phases:
        inside = [(latency, at - begin) for at, latency, _ in samples if begin <= at <= end]
        if not inside:
            print(f"   {name:<50} no sample")
            continue
        values = [latency for latency, _ in inside]
        worst, offset = max(inside)
        print(
            f"   {name:<50} n={len(values):>4} median {statistics.median(values) * 1000:6.1f} ms"
            f"  max {worst * 1000:6.1f} ms (at +{offset:.2f} s of {end - begin:.2f} s)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", type=Path)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--only", choices=["reuse", "concurrent", "health"], action="append", default=None
    )
    parser.add_argument("--no-reference", action="store_true", help="skip llama_cpp.server")
    parser.add_argument("--reps", type=int, default=3, help="conversations per server")
    parser.add_argument("--parallel", type=int, default=1, help="amalia serve's slots (part 1)")
    args = parser.parse_args()
    model = args.model or ensure_smollm()
    parts = args.only or ["reuse", "concurrent", "health"]
    home = tempfile.mkdtemp(prefix="bench-reuse-")
    print(f"model {model.name}; load average at start: {os.getloadavg()[0]:.2f}\n")
    if "reuse" in parts:
        servers = ["amalia serve"] + ([] if args.no_reference else ["llama_cpp.server"])
        multi_turn(model, args.threads, home, servers, args.reps, args.parallel)
    if "concurrent" in parts:
        for parallel in (4, 2):
            concurrent_conversations(model, args.threads, home, parallel)
    if "health" in parts:
        health_latency(model, args.threads, home)
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
