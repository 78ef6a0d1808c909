"""What keys, limits, the audit log and /metrics cost per request (issue 29, goal < 1 ms).

1. Per request, in process: the app that ``amalia serve`` runs (build_app), driven
   through ASGI with and without the accounting middleware, on two routes: GET
   /v1/models, and a route that attaches a finished sequence the way ModelHost.submit
   does (so the usage sums, token counters, histograms and the audit entry all run).
   With accounting: a keys file of 50 keys (one with limits, which is the one used), the
   audit log on a file, metrics. The model host is a stand-in (a name and the status
   figures): the model's own work is the same with and without, and not what is measured.
   Reported: the median over alternating blocks of the time per request, on the
   request path, and including the audit writer's own work (time until its queue has
   been written, per request).
2. With the model (SmolLM2 unless given): aggregate generation tokens/s of 4 and 8
   concurrent streams through ``amalia serve --audit-log ...`` (metrics are always on;
   no key, as bench_serve's client sends none: part 1 times the key lookup) against
   the bare batched loop of bench_serve.py (issue 15's target: >= 90%).

    python tests/benchmarks/bench_accounting.py [MODEL.gguf] [--requests 4000] [--skip-model]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from starlette.requests import Request
from starlette.responses import JSONResponse

from amalia_local.engine.batch import Sequence, SequenceRequest
from amalia_local.engine.stats import StopReason
from amalia_local.server import usage
from amalia_local.server.accounting import AUTHORIZED, Accounting
from amalia_local.server.app import ServerOptions, build_app
from amalia_local.server.audit import AuditLog
from amalia_local.server.keys import Keyring

KEY = "user-7-0123456789abcdef"


class StandInHost:
    """The figures /v1/models and /metrics read; no model."""

    name = "bench"

    def status(self) -> dict[str, Any]:
        return {"loaded": True, "slots_total": 4, "slots_processing": 1, "requests_waiting": 0}


def finished_sequence() -> Sequence:
    sequence = Sequence(SequenceRequest(tokens=[1] * 300), lambda _item: None, 512, lambda _s: None)
    stats = sequence.stats
    stats.prompt_tokens, stats.prompt_tokens_cached, stats.prompt_tokens_evaluated = 300, 250, 50
    stats.generated_tokens = stats.sampled_tokens = 64
    stats.time_to_first_token_s, stats.prompt_seconds = 0.12, 0.1
    stats.stop_reason = StopReason.END
    return sequence


async def answered(_request: Request) -> JSONResponse:
    usage.attach(finished_sequence(), "bench")  # what ModelHost.submit does
    return JSONResponse({"ok": True})


def app_with(accounting: bool, folder: Path) -> tuple[Any, AuditLog | None]:
    keys = folder / "keys.txt"
    lines = [f"user-{n} user-{n}-0123456789abcdef" for n in range(50)]
    lines[7] += " requests_per_minute=100000000 tokens_per_day=100000000000"
    keys.write_text("\n".join(lines) + "\n", encoding="utf-8")
    keys.chmod(0o600)
    audit = AuditLog(folder / f"audit-{time.monotonic_ns()}.jsonl", 100 * 2**20, 2)
    options = ServerOptions(keyring=Keyring(keys), audit=audit) if accounting else ServerOptions()
    app = build_app(StandInHost(), options)  # type: ignore[arg-type]
    app.add_route("/bench", answered, methods=["POST"])
    if not accounting:
        app.user_middleware = [m for m in app.user_middleware if m.cls is not Accounting]
        audit.close()
        return app, None
    return app, audit


async def drive(app: Any, method: str, path: str, n: int, authorized: bool) -> float:
    """Seconds for ``n`` requests, one after another, as uvicorn would call the app."""
    headers = [(b"authorization", f"Bearer {KEY}".encode()), (b"content-type", b"application/json")]
    body = b'{"model": "bench", "messages": [{"role": "user", "content": "Ol\xc3\xa1"}]}'

    async def send(_message: Any) -> None:
        return None

    start = time.perf_counter()
    for _ in range(n):
        messages = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive(messages: list[Any] = messages) -> Any:
            if messages:
                return messages.pop()
            await asyncio.sleep(3600)

        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
            "query_string": b"", "root_path": "", "headers": list(headers),
            "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8080),
        }  # fmt: skip
        if authorized:
            scope[AUTHORIZED] = True  # the app without the middleware: as if it had passed
        await app(scope, receive, send)
    return time.perf_counter() - start


def per_request(requests: int) -> None:
    print("1. per request, in process (median of alternating blocks)")
    print(f"{'route':<22} {'without':>10} {'with':>10} {'overhead':>10} {'+ writer':>10}")
    block = 250
    with tempfile.TemporaryDirectory() as folder:
        bare, _ = app_with(False, Path(folder))
        full, audit = app_with(True, Path(folder))
        assert audit is not None
        for method, path in (("GET", "/v1/models"), ("POST", "/bench")):
            without, with_, writer = [], [], []
            asyncio.run(drive(bare, method, path, 200, True))  # warm both
            asyncio.run(drive(full, method, path, 200, False))
            for _ in range(max(1, requests // block)):
                without.append(asyncio.run(drive(bare, method, path, block, True)) / block)
                start = time.perf_counter()
                with_.append(asyncio.run(drive(full, method, path, block, False)) / block)
                while not audit._queue.empty():  # the writer's share, on this machine's cores
                    time.sleep(0.0005)
                writer.append((time.perf_counter() - start) / block)
            a, b, c = (statistics.median(x) * 1e3 for x in (without, with_, writer))
            print(
                f"{method + ' ' + path:<22} {a:>8.3f}ms {b:>8.3f}ms {b - a:>8.3f}ms {c - a:>8.3f}ms"
            )
        audit.close()
        lines = len(audit.path.read_text(encoding="utf-8").splitlines())
        print(f"   ({lines} audit lines written, {audit.lost} lost)")


def with_model(model: Path, threads: int, tokens: int, reps: int) -> None:
    from bench_serve import COUNTING, Server, aggregate_rate, bare_batched, concurrent

    print("\n2. aggregate tokens/s with the audit log and metrics on (target >= 90% of bare)")
    print(f"{'N':>3} {'bare loop':>10} {'amalia serve':>13} {'ratio':>6}")
    home = tempfile.mkdtemp(prefix="bench-accounting-")
    audit = Path(home) / "audit.jsonl"
    counting = {"prompt": COUNTING, "max_tokens": tokens}
    for n in (4, 8):
        process = subprocess.Popen(
            [sys.executable, "-m", "amalia_local", "serve", str(model), "--port", "0",
             "--parallel", str(n), "--threads", str(threads), "--ctx", "1024",
             "--audit-log", str(audit)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            env={**os.environ, "AMALIA_HOME": home},
        )  # fmt: skip
        match = re.search(r"(http://127\.0\.0\.1:\d+/v1)", process.stdout.readline())
        if not match:
            process.kill()
            raise SystemExit("amalia serve did not start")
        server = Server(process, match.group(1), model.stem)
        try:
            concurrent(server, n, {**counting, "max_tokens": 8})
            bare_runs, ours = [], []
            for _ in range(reps):
                bare_runs.append(bare_batched(model, n, threads, tokens))
                ours.append(aggregate_rate(concurrent(server, n, counting)))
        finally:
            server.stop()
        bare, best = max(bare_runs), max(ours)
        print(f"{n:>3} {bare:>10.1f} {best:>13.1f} {best / bare:>6.0%}")
    entries = [json.loads(line) for line in audit.read_text(encoding="utf-8").splitlines()]
    print(f"   ({len(entries)} audit lines; /metrics and the audit log were on throughout)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", type=Path)
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--skip-model", action="store_true")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f}\n")
    per_request(args.requests)
    if not args.skip_model:
        from fetch_smollm import ensure_smollm

        with_model(args.model or ensure_smollm(), args.threads, args.tokens, args.reps)
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
