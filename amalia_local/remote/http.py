"""Just enough HTTP/1.1 for an OpenAI-compatible server, on the standard library's sockets.

Why not a library: ``run --endpoint`` is judged by its time to first token counted from
process start, within 50 ms of the server's own, and Python's start alone is 20-35 ms of
it. Importing httpx2 costs about 100 ms and even ``http.client`` about 25 ms (it loads
the ``email`` parser and ``ssl``); ``socket`` costs 2-3 ms.

The subset is what the two calls of :mod:`amalia_local.remote.client` need, and no more:
one request per connection (``Connection: close``), a body by ``Content-Length``, by
chunks, or until the server closes; no redirects (an API answers, it does not move), no
proxies from the environment (a proxy meant for the internet must not see a LAN server),
no compression. ``ssl`` is imported, and the system's CA store loaded, only for https://.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

from amalia_local.errors import AmaliaError

# A status line or a header longer than this is not an API server talking.
_MAX_LINE = 65536
_MAX_HEADERS = 100
_READ_SIZE = 65536


class HTTPError(AmaliaError):
    """The server could not be reached or did not speak HTTP: a catalogue key (``http.*``)
    that the client puts inside its own one-line error."""

    @classmethod
    def from_os(cls, exc: BaseException) -> HTTPError:
        """Refused, reset, unknown host, TLS: as the system says it; a timeout in words."""
        if isinstance(exc, TimeoutError):  # socket.timeout is TimeoutError
            return cls("http.timed_out")
        return cls("http.system", reason=" ".join(str(exc).split()) or type(exc).__name__)


class Response:
    """A response whose body is read as it arrives (the answer streams)."""

    def __init__(self, sock: socket.socket, method: str) -> None:
        self._sock = sock
        self._file = sock.makefile("rb")
        self.status, self.reason = _status_line(self._line())
        self.headers = self._headers()
        chunked = "chunked" in self.headers.get("transfer-encoding", "").lower()
        length = self.headers.get("content-length")
        self._chunked = chunked
        self._remaining: int | None = None
        if method == "HEAD" or self.status in (204, 304):
            self._remaining = 0
        elif not chunked and length is not None:
            try:
                self._remaining = int(length)
            except ValueError:
                raise HTTPError("http.malformed", text=length[:40]) from None
            if self._remaining < 0:
                raise HTTPError("http.malformed", text=length[:40])
        self._chunk_left = 0
        self._done = False

    # --- the body ---------------------------------------------------------------------
    def iter_bytes(self) -> Iterator[bytes]:
        """The body in pieces, each as soon as it has arrived."""
        while not self._done:
            try:
                piece = self._next_piece()
            except OSError as exc:  # reset, timed out, or shut down by abort()
                raise HTTPError.from_os(exc) from None
            if piece:
                yield piece

    def read(self) -> bytes:
        return b"".join(self.iter_bytes())

    def iter_lines(self) -> Iterator[str]:
        """The body's lines (``\\n`` or ``\\r\\n``), without their ends: server-sent events."""
        pending = b""
        for piece in self.iter_bytes():
            pending += piece
            *lines, pending = pending.split(b"\n")
            for line in lines:
                yield _text(line)
        if pending:
            yield _text(pending)

    def _next_piece(self) -> bytes:
        if self._chunked:
            return self._next_chunk()
        if self._remaining is None:  # until the server closes
            piece = self._file.read1(_READ_SIZE)
            if not piece:
                self._done = True
            return piece
        if self._remaining == 0:
            self._done = True
            return b""
        piece = self._read_owed(self._remaining)
        self._remaining -= len(piece)
        return piece

    def _next_chunk(self) -> bytes:
        if self._chunk_left == 0:
            size_line = self._line().split(";", 1)[0].strip()
            try:
                self._chunk_left = int(size_line, 16)
            except ValueError:
                raise HTTPError("http.malformed", text=size_line[:40]) from None
            if self._chunk_left < 0:
                raise HTTPError("http.malformed", text=size_line[:40])
            if self._chunk_left == 0:
                while self._line():  # trailers, up to the empty line
                    pass
                self._done = True
                return b""
        piece = self._read_owed(self._chunk_left)
        self._chunk_left -= len(piece)
        if self._chunk_left == 0:
            self._line()  # the CRLF after the chunk's data
        return piece

    def _read_owed(self, owed: int) -> bytes:
        """Up to ``owed`` bytes the server announced (a length or a chunk): whatever has
        arrived, but never nothing, since a close before them cuts the answer short."""
        piece = self._file.read1(min(owed, _READ_SIZE))
        if not piece:
            raise HTTPError("http.closed_mid_answer")
        return piece

    # --- the head ---------------------------------------------------------------------
    def _line(self) -> str:
        raw = self._file.readline(_MAX_LINE + 1)
        if not raw:
            raise HTTPError("http.closed_early")
        if len(raw) > _MAX_LINE:
            raise HTTPError("http.malformed", text=raw[:40].decode("latin-1"))
        return raw.decode("latin-1").rstrip("\r\n")

    def _headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        for _ in range(_MAX_HEADERS):
            line = self._line()
            if not line:
                return headers
            name, sep, value = line.partition(":")
            if not sep:
                raise HTTPError("http.malformed", text=line[:40])
            name = name.strip().lower()
            value = value.strip()
            # Repeated headers are joined with commas, as RFC 9110 allows.
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        raise HTTPError("http.malformed", text=line[:40])

    # --- the connection ---------------------------------------------------------------
    def abort(self) -> None:
        """From any thread: end the connection, so a reader blocked on it wakes up and the
        server learns to stop (that is how every OpenAI-compatible server is cancelled)."""
        with contextlib.suppress(OSError):  # already closed by either side
            self._sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        """From the thread that reads: end the connection and free it."""
        self.abort()
        self._done = True
        try:
            self._file.close()
        finally:
            self._sock.close()


def request(
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    connect_timeout: float,
    read_timeout: float,
) -> Response:
    """Send one request and read the answer's head; the body is left to read.

    Every failure to connect, to agree on TLS, to send, or to read the head is an
    :class:`HTTPError` whose text says what happened (refused, timed out, certificate...).
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        host = parts.hostname
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:  # a port that is not a number
        raise HTTPError("http.bad_url", url=url) from None
    if scheme not in ("http", "https") or not host:
        raise HTTPError("http.bad_url", url=url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    sock = None
    try:
        # An ASCII name as bytes: a str goes through the "idna" codec (2 ms to import).
        address = host.encode("ascii") if host.isascii() else host
        sock = socket.create_connection((address, port), timeout=connect_timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if scheme == "https":
            import ssl  # only here: loading it and the CA store costs tens of ms

            context = ssl.create_default_context()
            sock = context.wrap_socket(sock, server_hostname=host)
        sock.settimeout(read_timeout)
        sock.sendall(_head(method, target, _host_header(host, parts.port), headers, body))
        if body:
            sock.sendall(body)
        return Response(sock, method)
    except HTTPError:
        if sock is not None:
            sock.close()
        raise
    except (OSError, UnicodeError) as exc:  # refused, unknown host, timeout, TLS (SSLError)
        if sock is not None:
            sock.close()
        raise HTTPError.from_os(exc) from None


def _head(
    method: str, target: str, host: str, headers: dict[str, str] | None, body: bytes | None
) -> bytes:
    lines = [
        f"{method} {target} HTTP/1.1",
        f"Host: {host}",
        "Connection: close",
        "Accept-Encoding: identity",
        "User-Agent: amalia-local",
    ]
    for name, value in (headers or {}).items():
        if "\r" in value or "\n" in value:  # would smuggle in a header of its own
            raise HTTPError("http.header_line_break", name=name)
        lines.append(f"{name}: {value}")
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _host_header(host: str, port: int | None) -> str:
    name = f"[{host}]" if ":" in host else host  # an IPv6 address
    return f"{name}:{port}" if port else name


def _status_line(line: str) -> tuple[int, str]:
    version, _, rest = line.partition(" ")
    code, _, reason = rest.partition(" ")
    if not version.startswith("HTTP/") or len(code) != 3 or not code.isdigit():
        raise HTTPError("http.malformed", text=line[:40])
    return int(code), reason.strip()


def _text(line: bytes) -> str:
    if line.endswith(b"\r"):
        line = line[:-1]
    return line.decode("utf-8", errors="replace")
