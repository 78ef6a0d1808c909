"""Speed of ``amalia serve`` against a bare batched-decode loop, ``amalia run`` and
llama-cpp-python's own server, side by side, on the same model and settings.

Targets (issue 15):
- aggregate generation tokens/s with 4 and 8 concurrent streams >= 90% of a bare
  llama.cpp loop decoding the same number of sequences (one token per sequence per
  ``llama_decode``, C API only, greedy);
- one stream through the server >= 95% of ``amalia run``'s generation tokens/s;
- time to first token of queued requests at 1, 4 and 8 clients, reported.

Rates are measured the same way everywhere: generation only (prompt excluded). Streams
side by side, the sum of their rates; one stream: (tokens - 1) / (last - first) as
``amalia run`` computes it, from the server's ``timings`` where it sends them (amalia
serve groups tokens that arrive within 50 ms into one chunk, so the client's clock is
too coarse), else from the arrival of chunks. Each side runs --reps times, alternating;
the best is shown (on a shared machine the best is the least disturbed run).

    python tests/benchmarks/bench_serve.py [MODEL.gguf] [--threads 2] [--tokens 128]

MODEL defaults to the SmolLM2-135M GGUF the tests fetch (tests/.models/).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench_common import LISBON, SYSTEM, amalia_run_stats
from fetch_smollm import ensure_smollm

# Counting never reaches an end-of-text token, so every stream runs its full length.
COUNTING = "".join(f"{i}\n" for i in range(1, 21))
CTX = 1024

BARE = textwrap.dedent(
    """
    import json, sys, time
    import llama_cpp
    path, prompt = sys.argv[1], sys.argv[5]
    n_seq, n_threads, n_gen, n_ctx = (int(a) for a in sys.argv[2:5] + sys.argv[6:7])
    llama_cpp.llama_backend_init()
    null_log = llama_cpp.llama_log_callback(lambda *a: None)
    llama_cpp.llama_log_set(null_log, None)
    mp = llama_cpp.llama_model_default_params()
    model = llama_cpp.llama_model_load_from_file(path.encode(), mp)
    vocab = llama_cpp.llama_model_get_vocab(model)
    cp = llama_cpp.llama_context_default_params()
    cp.n_ctx = n_ctx * n_seq
    cp.n_batch = cp.n_ubatch = 512
    cp.n_seq_max = n_seq
    cp.n_threads = cp.n_threads_batch = n_threads
    cp.kv_unified = False
    # as serve decodes (engine/batch.py: flash attention off for an f16 KV cache)
    cp.flash_attn_type = llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED
    ctx = llama_cpp.llama_init_from_model(model, cp)
    buf = (llama_cpp.llama_token * 512)()
    text = prompt.encode()
    n_prompt = llama_cpp.llama_tokenize(vocab, text, len(text), buf, 512, True, True)
    tokens = list(buf[:n_prompt])
    batch = llama_cpp.llama_batch_init(512, 0, 1)
    samplers = []
    for s in range(n_seq):
        chain = llama_cpp.llama_sampler_chain_init(llama_cpp.llama_sampler_chain_default_params())
        llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_greedy())
        samplers.append(chain)
    def put(i, tok, pos, seq, logits):
        batch.token[i] = tok; batch.pos[i] = pos; batch.n_seq_id[i] = 1
        batch.seq_id[i][0] = seq; batch.logits[i] = logits
    # prompts, one sequence at a time
    last = []
    for s in range(n_seq):
        for i, t in enumerate(tokens):
            put(i, t, i, s, i == len(tokens) - 1)
        batch.n_tokens = len(tokens)
        assert llama_cpp.llama_decode(ctx, batch) == 0
        last.append(llama_cpp.llama_sampler_sample(samplers[s], ctx, len(tokens) - 1))
    pos = len(tokens)
    start = time.perf_counter()
    for step in range(n_gen):
        for s in range(n_seq):
            put(s, last[s], pos, s, True)
        batch.n_tokens = n_seq
        assert llama_cpp.llama_decode(ctx, batch) == 0
        last = [llama_cpp.llama_sampler_sample(samplers[s], ctx, s) for s in range(n_seq)]
        pos += 1
    elapsed = time.perf_counter() - start
    print(json.dumps({"tokens_per_s": n_seq * n_gen / elapsed}))
    """
)


def bare_batched(model: Path, n_seq: int, threads: int, n_gen: int) -> float:
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            BARE,
            str(model),
            str(n_seq),
            str(threads),
            str(n_gen),
            COUNTING,
            str(CTX),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out)["tokens_per_s"]


# --- servers -------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    process: subprocess.Popen
    base: str  # http://127.0.0.1:PORT/v1
    model: str

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_amalia(
    model: Path,
    parallel: int,
    threads: int,
    home: str,
    ctx: int = CTX,
    idle_unload_minutes: float | None = None,
) -> Server:
    idle = ["--idle-unload", str(idle_unload_minutes)] if idle_unload_minutes else []
    process = subprocess.Popen(
        [sys.executable, "-m", "amalia_local", "serve", str(model), "--port", "0",
         "--parallel", str(parallel), "--threads", str(threads), "--ctx", str(ctx), *idle],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**os.environ, "AMALIA_HOME": home},
    )  # fmt: skip
    line = process.stdout.readline()
    match = re.search(r"(http://127\.0\.0\.1:\d+/v1)", line)
    if not match:
        process.kill()
        raise SystemExit(f"amalia serve did not start: {line!r}")
    return Server(process, match.group(1), model.stem)


def start_llama_cpp_server(model: Path, threads: int, ctx: int = CTX) -> Server:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
         "--port", str(port), "--n_ctx", str(ctx), "--n_threads", str(threads),
         "--model_alias", "m", "--interrupt_requests", "False"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}/v1"
    for _ in range(600):
        try:
            httpx2.get(base + "/models", timeout=2)
            return Server(process, base, "m")
        except httpx2.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("llama_cpp.server did not start")


# --- clients -------------------------------------------------------------------------------
@dataclass
class Stream:
    sent: float = 0.0
    times: list[float] = field(default_factory=list)  # arrival of each content chunk
    tokens: int = 0  # completion_tokens from usage (or chunks when absent)
    # The server's own generation rate (``timings``, amalia serve and llama-server): the
    # client's clock sees chunks, which a server may group.
    server_rate: float | None = None


def stream_once(server: Server, body: dict, result: Stream) -> None:
    payload = {**body, "model": server.model, "stream": True, "temperature": 0}
    chat = "messages" in body
    path = "/chat/completions" if chat else "/completions"
    result.sent = time.perf_counter()
    with httpx2.stream("POST", server.base + path, json=payload, timeout=600) as response:
        for line in response.iter_lines():
            if not line.startswith("data:") or line.strip() == "data: [DONE]":
                continue
            event = json.loads(line[5:])
            for choice in event.get("choices") or []:
                text = (choice.get("delta") or {}).get("content") if chat else choice.get("text")
                if text:
                    result.times.append(time.perf_counter())
            if event.get("usage"):
                result.tokens = event["usage"]["completion_tokens"]
            if event.get("timings"):
                result.server_rate = event["timings"]["predicted_per_second"]
    result.tokens = result.tokens or len(result.times)


def concurrent(server: Server, n: int, body: dict) -> list[Stream]:
    results = [Stream() for _ in range(n)]
    threads = [threading.Thread(target=stream_once, args=(server, body, r)) for r in results]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def aggregate_rate(streams: list[Stream]) -> float:
    """Streams that run side by side: the sum of their rates (as the bare loop's N)."""
    return sum(single_rate(s) for s in streams)


def serial_rate(streams: list[Stream]) -> float:
    """A server that answers one request at a time: all tokens over the whole run."""
    span = max(s.times[-1] for s in streams) - min(s.sent for s in streams)
    return sum(s.tokens for s in streams) / span


def single_rate(stream: Stream) -> float:
    if stream.server_rate:
        return stream.server_rate
    if len(stream.times) < 2:
        return 0.0
    return (stream.tokens - 1) / (stream.times[-1] - stream.times[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", type=Path)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tokens", type=int, default=128, help="tokens per stream")
    parser.add_argument("--reps", type=int, default=2, help="runs of each side; best shown")
    args = parser.parse_args()
    model = args.model or ensure_smollm()
    home = tempfile.mkdtemp(prefix="bench-serve-")
    counting = {"prompt": COUNTING, "max_tokens": args.tokens}
    print(f"model {model.name}, {args.threads} threads, {args.tokens} tokens per stream")
    print(f"load average at start: {os.getloadavg()[0]:.2f}\n")

    print("1. aggregate generation tokens/s, N streams (target: amalia serve >= 90% of bare)")
    print(f"{'N':>3} {'bare loop':>10} {'amalia serve':>13} {'ratio':>6} {'llama_cpp.server':>17}")
    foreign = start_llama_cpp_server(model, args.threads)
    try:
        for n in (1, 4, 8):
            server = start_amalia(model, n, args.threads, home)
            try:
                concurrent(server, n, {**counting, "max_tokens": 8})  # warm up
                bare_runs, our_runs = [], []
                for _ in range(args.reps):  # alternating: the machine's drift hits both
                    bare_runs.append(bare_batched(model, n, args.threads, args.tokens))
                    our_runs.append(aggregate_rate(concurrent(server, n, counting)))
            finally:
                server.stop()
            # llama-cpp-python's server answers one request at a time.
            concurrent(foreign, 1, {**counting, "max_tokens": 8})  # warm up
            streams = concurrent(foreign, n, counting)
            theirs = single_rate(streams[0]) if n == 1 else serial_rate(streams)
            bare, ours = max(bare_runs), max(our_runs)
            print(f"{n:>3} {bare:>10.1f} {ours:>13.1f} {ours / bare:>6.0%} {theirs:>17.1f}")

        print("\n2. one stream: amalia serve vs amalia run (target >= 95%), same chat prompt")
        chat = {
            "messages": [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": LISBON},
            ],
            "max_tokens": 192,
        }
        server = start_amalia(model, 4, args.threads, home)
        try:
            stream_once(server, {**chat, "max_tokens": 8}, Stream())
            serve_rates, run_rates, foreign_rates = [], [], []
            for _ in range(args.reps):
                run = amalia_run_stats(
                    model, LISBON, threads=args.threads, ctx=CTX, max_tokens=192, home=home
                )
                run_rates.append(run["generation_tokens_per_second"])
                one = Stream()
                stream_once(server, chat, one)
                serve_rates.append(single_rate(one))
                other = Stream()
                stream_once(foreign, chat, other)
                foreign_rates.append(single_rate(other))
            run_rate, serve_rate = max(run_rates), max(serve_rates)
            foreign_rate = max(foreign_rates)
            print(f"  amalia run         {run_rate:8.1f} tok/s  (best of {args.reps})")
            print(f"  amalia serve       {serve_rate:8.1f} tok/s  ({serve_rate / run_rate:.0%})")
            print(f"  llama_cpp.server   {foreign_rate:8.1f} tok/s")

            print("\n3. time to first token, N clients at once, 4 parallel slots")
            print(f"{'N':>3} {'median s':>9} {'max s':>7}  (max: a queued request when N > 4)")
            for n in (1, 4, 8):
                streams = concurrent(server, n, {**counting, "max_tokens": 64})
                ttft = [s.times[0] - s.sent for s in streams]
                print(f"{n:>3} {statistics.median(ttft):>9.2f} {max(ttft):>7.2f}")
        finally:
            server.stop()
    finally:
        foreign.stop()
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
