"""``amalia serve``: the OpenAI-compatible API on this machine, for editors and colleagues.

Refuses to listen beyond loopback without an API key, binds the socket itself (so a
port in use is one line, not a uvicorn traceback), loads the model before announcing
the address, and keeps uvicorn's own log down to warnings.
"""

from __future__ import annotations

import ipaddress
import signal
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from amalia_local.errors import ServeError, UsageError
from amalia_local.fit import LoadOptions
from amalia_local.runtime import Runtime

if TYPE_CHECKING:
    from amalia_local.server.audit import AuditLog
    from amalia_local.server.keys import Keyring

SWITCH_INTERVAL_S = 0.0005


@dataclass(frozen=True)
class ServeRequest:
    model: str  # a path, resolved from a store name by the CLI
    name: str  # the model id clients send
    host: str = "127.0.0.1"
    port: int = 8080
    api_key: str | None = None
    api_keys_file: Path | None = None  # named keys, re-read on SIGHUP
    audit_log: Path | None = None
    audit_log_max_mb: float = 100.0
    audit_log_keep: int = 5
    log_content: bool = False  # the audit log keeps messages and answers
    parallel: int | None = None
    max_queue: int = 64
    idle_unload_minutes: float | None = None
    load: LoadOptions = field(default_factory=LoadOptions)
    force: bool = False
    state_cache_gb: float = 0.0  # disk for the slots' saved KV states (settings)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """The listening socket; one line (ServeError) when the address is taken or wrong."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise ServeError(
            "error.serve_bind", host=host, port=port, reason=exc.strerror or exc
        ) from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise ServeError(
            "error.serve_bind", host=host, port=port, reason=exc.strerror or exc
        ) from None
    sock.set_inheritable(True)
    return sock


def serve(request: ServeRequest, runtime: Runtime, out: TextIO) -> int:
    from amalia_local.server.audit import AuditLog
    from amalia_local.server.keys import Keyring

    if not is_loopback(request.host) and not (request.api_key or request.api_keys_file):
        raise UsageError("error.serve_needs_key", host=request.host)
    if request.log_content and request.audit_log is None:
        raise UsageError("error.log_content_needs_audit")
    # Both are read before the model loads: a wrong line or path is one line at once.
    keyring = Keyring(request.api_keys_file, request.api_key)
    reloading_keys_on_sighup(keyring)  # from now on: a reload while the model loads is fine
    audit = (
        AuditLog.open(
            request.audit_log,
            int(request.audit_log_max_mb * 1024 * 1024),
            request.audit_log_keep,
        )
        if request.audit_log is not None
        else None
    )
    try:
        return _serve(request, runtime, out, keyring, audit)
    finally:
        if audit is not None:
            audit.close()


def _serve(
    request: ServeRequest,
    runtime: Runtime,
    out: TextIO,
    keyring: Keyring,
    audit: AuditLog | None,
) -> int:
    import uvicorn

    from amalia_local.server.app import ServerOptions, build_app
    from amalia_local.server.host import HostSettings, ModelHost
    from amalia_local.server.protocol import GuardedH11Protocol
    from amalia_local.services.loading import state_budget_bytes

    settings = HostSettings(
        model_path=request.model,
        name=request.name,
        load=request.load,
        parallel=request.parallel,
        max_queue=request.max_queue,
        idle_unload_s=request.idle_unload_minutes * 60 if request.idle_unload_minutes else None,
        force=request.force,
        state_dir=runtime.locations.kv_state_dir,
        state_budget=state_budget_bytes(request.state_cache_gb),
    )
    with runtime.open_llama_log() as log:
        host = ModelHost(settings, log, cache_dir=runtime.locations.cache_dir)
        try:
            host.load()
            sock = bind(request.host, request.port)
            port = sock.getsockname()[1]
            shown = f"[{request.host}]" if ":" in request.host else request.host
            out.write(
                runtime.t(
                    "serve.listening",
                    model=request.name,
                    url=f"http://{shown}:{port}/v1",
                    parallel=host.plan.n_parallel,
                    n_ctx=host.plan.n_ctx_per_seq,
                )
                + "\n"
            )
            out.flush()
            options = ServerOptions(keyring=keyring, audit=audit, log_content=request.log_content)
            app = build_app(host, options)
            # The decode thread takes the GIL back after every llama_decode; with the
            # default 5 ms switch interval the event loop could hold it that long per
            # token. The chat does the same while it streams (tui/app.py).
            sys.setswitchinterval(SWITCH_INTERVAL_S)
            config = uvicorn.Config(
                app,
                # h11 with header timeouts, a connection cap and JSON 400s (protocol.py)
                http=GuardedH11Protocol,
                log_level="warning",
                access_log=False,
                timeout_graceful_shutdown=3,
                h11_max_incomplete_event_size=64 * 1024,
            )
            uvicorn.Server(config).run(sockets=[sock])
        finally:
            host.close()
    return 0


def reloading_keys_on_sighup(keyring: Keyring) -> None:
    """``kill -HUP`` (``systemctl reload``) re-reads the keys file, as daemons do with their
    configuration: keys are added and revoked without dropping a connection. uvicorn
    handles SIGINT and SIGTERM only, so this handler stays for the server's life; it
    runs on the main thread, the event loop's, between two of its steps."""
    if keyring.path is None or not hasattr(signal, "SIGHUP"):
        return
    signal.signal(signal.SIGHUP, lambda _signum, _frame: keyring.reload())
