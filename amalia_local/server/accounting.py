"""Who may ask, how much, and what they used: one ASGI middleware around every route.

For each HTTP request, before any route sees it: the key is checked (keys.py, constant
time; 401 with an error object), the key's limits applied (limits.py; 429 with
``Retry-After``), and a :class:`RequestRecord` made current so that the sequences the
route submits are counted (usage.py). When the last byte of the answer is handed to the
server, the request is counted in /metrics (metrics.py) and queued for the audit log
(audit.py); doing it before that byte leaves means a client that has its answer finds
it in /metrics already.

Because it wraps the app rather than the routes, a route added later (Ollama's /api/*)
is behind the same keys, limits, log and metrics without code of its own; its refusals
take Ollama's error shape (``{"error": "..."}``) there. Open without a key: /health (load
balancers and ``systemctl`` checks probe it) and Ollama's ``GET /`` and /api/version,
which tools call before they send a key; none says anything about the model or who uses
the server. They are not audited either (probes every few seconds would bury the
requests), though /metrics counts them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from amalia_local.server import errors, usage
from amalia_local.server.audit import AuditLog
from amalia_local.server.keys import Keyring
from amalia_local.server.limits import Limiter, Refusal
from amalia_local.server.metrics import CONTENT_TYPE, Metrics
from amalia_local.server.usage import RequestRecord

log = logging.getLogger(__name__)

OPEN_PATHS = frozenset({"/health", "/", "/api/version"})
NOT_AUDITED = OPEN_PATHS
AUTHORIZED = "amalia.authorized"  # set in the scope once the key has been checked
MAX_PATH_LOGGED = 200  # a client chooses the path: the audit log keeps this much of it


def authorized(scope: Scope) -> bool:
    """Whether the middleware let this request through (routes check it again, so an app
    built without the middleware refuses rather than serves everyone)."""
    return bool(scope.get(AUTHORIZED))


def install(
    app: Starlette,
    host_status: Any,
    keyring: Keyring,
    audit: AuditLog | None,
    *,
    log_content: bool,
    max_body: int,
) -> Metrics:
    """Put the middleware around ``app`` and add /metrics to its routes."""
    metrics = Metrics(host_status, (lambda: audit.lost) if audit is not None else None)

    async def metrics_endpoint(_request: Request) -> Response:
        return Response(metrics.exposition(), headers={"Content-Type": CONTENT_TYPE})

    app.add_route("/metrics", metrics_endpoint, methods=["GET"])
    app.add_middleware(
        Accounting,
        keyring=keyring,
        metrics=metrics,
        audit=audit,
        log_content=log_content,
        max_body=max_body,
        routes=app.router.routes,
    )
    return metrics


class Accounting:
    def __init__(
        self,
        app: ASGIApp,
        *,
        keyring: Keyring,
        metrics: Metrics,
        audit: AuditLog | None,
        log_content: bool,
        max_body: int,
        routes: list[Any],
    ) -> None:
        self.app = app
        self.keyring = keyring
        self.metrics = metrics
        self.audit = audit
        self.log_content = log_content and audit is not None
        self.max_body = max_body
        self.limiter = Limiter()
        self._routes = routes  # the app's own list: routes added later are seen
        self._paths: frozenset[str] = frozenset()
        self._paths_from = -1

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        record = RequestRecord(
            scope["method"],
            scope["path"],
            client[0] if client else None,
            keep_content=self.log_content,
        )
        finished = False

        async def sending(message: Message) -> None:
            nonlocal finished
            if message["type"] == "http.response.start":
                record.status = message["status"]
            elif (
                message["type"] == "http.response.body"
                and not message.get("more_body")
                and not finished
            ):
                finished = True
                self._finish(record)
            await send(message)

        if record.path in OPEN_PATHS:
            scope[AUTHORIZED] = True
            await self.app(scope, receive, sending)
            return
        refusal = self._admit(scope, record)
        if refusal is not None:
            await refusal(scope, receive, sending)
            return
        scope[AUTHORIZED] = True
        token = usage.begin(record)
        try:
            await self.app(
                scope, self._keeping(receive, record) if self.log_content else receive, sending
            )
        finally:
            usage.end(token)
            if not finished:
                # No last byte: an exception (the server answers 500), or a client that
                # left in the middle of a streamed answer (499, as nginx logs it).
                record.status = 500 if record.status is None else 499
                self._finish(record)

    # --- before -----------------------------------------------------------------------------
    def _admit(self, scope: Scope, record: RequestRecord) -> Response | None:
        """None when the request may go on; else the refusal to send."""
        if not self.keyring.enabled:
            return None
        key = self.keyring.identify(_bearer(scope))
        if key is None:
            log.warning(
                "401 invalid_api_key: %s %s from %s",
                record.method,
                _short(record.path),
                record.client,
            )
            return errors.shaped(record.path, errors.unauthorized())
        record.key = key.name
        refused = self.limiter.admit(key.name, key.limits)
        if refused is None:
            return None
        log.warning(
            "429 rate_limit_exceeded: key %s, %d %s (retry in %d s)",
            key.name,
            refused.limit,
            "requests per minute" if refused.kind == "requests" else "tokens per day",
            refused.retry_after,
        )
        return errors.shaped(record.path, _rate_limited(refused))

    def _keeping(self, receive: Receive, record: RequestRecord) -> Receive:
        """``receive``, keeping the body for the audit log (up to the body limit)."""
        kept = 0

        async def receiving() -> Message:
            nonlocal kept
            message = await receive()
            if message["type"] == "http.request" and kept <= self.max_body:
                chunk = message.get("body", b"")
                kept += len(chunk)
                record.body.append(chunk)
            return message

        return receiving

    # --- after ------------------------------------------------------------------------------
    def _finish(self, record: RequestRecord) -> None:
        """Count the request and queue its audit line; never raises into the request."""
        try:
            duration = time.perf_counter() - record.started
            used = usage.usage(record)
            status = record.status or 500
            self.metrics.observe(self._endpoint(record.path), status, record.key, duration, used)
            if record.key is not None and used.total_tokens:
                self.limiter.spend(record.key, used.total_tokens)
            if self.audit is not None and record.path not in NOT_AUDITED:
                self.audit.write(_entry(record, status, duration, used))
        except Exception as exc:  # a bug here must not cost anyone their answer
            log.error("accounting failed: %s: %s", type(exc).__name__, exc)

    def _endpoint(self, path: str) -> str:
        """The metrics label: a route of this app, else "other" (a client picks the path,
        and each label value is a series Prometheus keeps)."""
        if len(self._routes) != self._paths_from:
            self._paths = frozenset(_route_paths(self._routes))
            self._paths_from = len(self._routes)
        return path if path in self._paths else "other"


def _route_paths(routes: Iterable[Any]) -> Iterable[str]:
    for route in routes:
        path = getattr(route, "path", None)
        if isinstance(path, str):
            yield path


def _bearer(scope: Scope) -> bytes | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.partition(b" ")
            return token.strip() if scheme.lower() == b"bearer" else None
    return None


def _short(path: str) -> str:
    return path if len(path) <= MAX_PATH_LOGGED else path[:MAX_PATH_LOGGED] + "..."


def _rate_limited(refused: Refusal) -> errors.APIError:
    what = "requests per minute" if refused.kind == "requests" else "tokens per day"
    return errors.APIError(
        429,
        f"Rate limit reached for this key: {refused.limit} {what}. "
        f"Retry in {refused.retry_after} s.",
        type=refused.kind,
        code="rate_limit_exceeded",
        headers={"Retry-After": str(refused.retry_after)},
    )


def _entry(
    record: RequestRecord, status: int, duration: float, used: usage.Usage
) -> dict[str, Any]:
    """The audit line's fields, cheap to make: the writer thread formats them."""
    ttft = used.time_to_first_token_s
    entry: dict[str, Any] = {
        "time": record.time,
        "key": record.key,
        "client": record.client,
        "method": record.method,
        "endpoint": _short(record.path),
        "model": record.model,
        "status": status,
        "prompt_tokens": used.prompt_tokens,
        "cached_tokens": used.cached_tokens,
        "completion_tokens": used.completion_tokens,
        "time_to_first_token_ms": round(ttft * 1000, 1) if ttft is not None else None,
        "duration_ms": round(duration * 1000, 1),
    }
    if record.keep_content:
        entry["_body"] = b"".join(record.body)
        entry["answer"] = "".join(record.answer) if record.sequences else None
    return entry
