"""HTTP for the ``--endpoint`` client, through the standard library's :mod:`http.client`.

``run --endpoint`` is judged by its time to first token counted from process start, within
50 ms of the server's own. ``http.client`` (with ``ssl`` and the ``email`` parser it loads)
and ``urllib.request`` (for the proxy settings) cost about 20-25 ms together, so they are
imported here when the first request is made, not when this module is: ``--help``,
``list`` and every command that asks no server pay nothing for them.

HTTP itself (status lines, 100 Continue, chunks, lengths, TLS, CONNECT tunnels) is
``http.client``'s job. What this module adds, and only that:

- proxies from the environment as every HTTP tool reads them (``HTTPS_PROXY``,
  ``HTTP_PROXY``, ``NO_PROXY``, upper or lower case; the system's settings on macOS and
  Windows), through :func:`urllib.request.getproxies` and :func:`~urllib.request.proxy_bypass`:
  https:// through a ``CONNECT`` tunnel, http:// as an absolute-URI request to the proxy;
- ``user:password@`` in the endpoint's URL sent as Basic auth, in the proxy's URL as
  ``Proxy-Authorization``; the path percent-encoded and the host IDNA-encoded;
- interim answers other than 100 (102, 103 Early Hints) skipped like 100, never final;
- one TLS context per process, with the system's trust store, loaded at the first https://
  request (certifi's bundle only when the system's store is empty, as on python.org's
  macOS builds before "Install Certificates" is run);
- :meth:`Response.abort` from any thread, without touching the TLS object a reading
  thread is using; and one typed error, :class:`HTTPError`, for every failure.

One request per connection (``Connection: close``); no redirects (an API answers, it does
not move); no compression.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import os
import socket
import sys
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

from amalia_local.errors import AmaliaError

if TYPE_CHECKING:
    import http.client
    import ssl
    from email.message import Message

_READ_SIZE = 65536
# What a path or a query may keep as written: RFC 3986's reserved and unreserved
# characters, and "%" so that an address already percent-encoded is not encoded twice.
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_QUERY_SAFE = _PATH_SAFE + "?"


class HTTPError(AmaliaError):
    """The server could not be reached or did not speak HTTP: a catalogue key (``http.*``)
    that the client puts inside its own one-line error."""

    @classmethod
    def from_os(cls, exc: BaseException) -> HTTPError:
        """Refused, reset, unknown host, TLS: as the system says it; a timeout in words."""
        if isinstance(exc, TimeoutError):  # socket.timeout is TimeoutError
            return cls("http.timed_out")
        return cls("http.system", reason=" ".join(str(exc).split()) or type(exc).__name__)


class Aborted(HTTPError):
    """The answer was being read when :meth:`Response.abort` ended it: the reader's outcome
    of a cancel (Esc, Ctrl-C), whatever the connection did as it went."""

    def __init__(self) -> None:
        super().__init__("http.aborted")


class Response:
    """A response whose body is read as it arrives (the answer streams)."""

    def __init__(self, connection: http.client.HTTPConnection) -> None:
        import http.client

        self._connection = connection
        # The socket as it was connected, kept for abort(): the connection forgets it
        # when the response is complete.
        self._sock = connection.sock
        self._aborted = False
        try:
            self._response = connection.getresponse()
        except http.client.RemoteDisconnected:
            raise HTTPError("http.closed_early") from None
        except http.client.HTTPException as exc:  # a status line or header not HTTP
            raise HTTPError("http.malformed", text=_near(exc)) from None
        self.status: int = self._response.status
        self.reason: str = self._response.reason
        self.headers: Message = self._response.headers

    # --- the body ---------------------------------------------------------------------
    def iter_bytes(self) -> Iterator[bytes]:
        """The body in pieces, each as soon as it has arrived."""
        import http.client

        response = self._response
        while True:
            try:
                piece = response.read1(_READ_SIZE)
            except (OSError, ValueError, http.client.HTTPException) as exc:
                # ValueError: the file was closed under the read, by abort() or close().
                if self._aborted:
                    raise Aborted() from None
                if isinstance(exc, http.client.IncompleteRead):
                    raise HTTPError("http.closed_mid_answer") from None
                if isinstance(exc, http.client.HTTPException):  # a chunk line too long
                    raise HTTPError("http.malformed", text=_near(exc)) from None
                raise HTTPError.from_os(exc) from None
            if self._aborted:  # what the shut-down connection gave up is not the answer
                raise Aborted()
            if not piece:
                # A body of announced length ends early without an error from http.client.
                if response.length:
                    raise HTTPError("http.closed_mid_answer")
                return
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

    # --- the connection ---------------------------------------------------------------
    def abort(self) -> None:
        """From any thread: end the connection, so a reader blocked on it wakes up and the
        server learns to stop (that is how every OpenAI-compatible server is cancelled).

        Only the socket's file descriptor is shut down, through the plain socket's method:
        ``SSLSocket.shutdown`` would also drop the TLS object that the reading thread may
        be inside. That thread meets the end of the stream and raises :class:`Aborted`."""
        self._aborted = True
        if self._sock is not None:
            with contextlib.suppress(OSError):  # already closed by either side
                socket.socket.shutdown(self._sock, socket.SHUT_RDWR)

    def close(self) -> None:
        """From the thread that reads: end the connection and free it."""
        try:
            self._response.close()
        finally:
            self._connection.close()


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
    import http.client

    target = _Target.parse(url)
    sent = {
        "Host": target.host_header,
        "Connection": "close",
        "Accept-Encoding": "identity",
        "User-Agent": "amalia-local",
    }
    if target.credentials:
        sent["Authorization"] = "Basic " + target.credentials
    for name, value in (headers or {}).items():
        if "\r" in value or "\n" in value:  # would smuggle in a header of its own
            raise HTTPError("http.header_line_break", name=name)
        sent[name] = value  # an API key's Bearer overrides the address's user:password

    proxy = _proxy_for(target)
    plain, secure = _connection_classes()
    connection: http.client.HTTPConnection
    if target.scheme == "https":
        connection = secure(
            proxy.host if proxy else target.host,
            proxy.port if proxy else target.port,
            timeout=connect_timeout,
            context=tls_context(),
        )
        if proxy:
            tunnel = {"Proxy-Authorization": "Basic " + proxy.credentials}
            connection.set_tunnel(
                target.host, target.port, headers=tunnel if proxy.credentials else None
            )
        path = target.path
    elif proxy:
        connection = plain(proxy.host, proxy.port, timeout=connect_timeout)
        if proxy.credentials:
            sent["Proxy-Authorization"] = "Basic " + proxy.credentials
        path = f"http://{target.host_header}{target.path}"  # absolute: the proxy forwards
    else:
        connection = plain(target.host, target.port, timeout=connect_timeout)
        path = target.path
    try:
        connection.connect()  # TCP, then CONNECT and TLS as needed, within connect_timeout
        assert connection.sock is not None
        connection.sock.settimeout(read_timeout)
        connection.request(method, path, body=body, headers=sent)
        return Response(connection)
    except HTTPError:
        connection.close()
        raise
    except http.client.HTTPException as exc:
        connection.close()
        raise HTTPError("http.malformed", text=_near(exc)) from None
    except (OSError, UnicodeError) as exc:  # refused, unknown host, timeout, TLS, proxy
        connection.close()
        raise HTTPError.from_os(exc) from None


# --- addresses ------------------------------------------------------------------------
class _Target:
    """A URL taken apart for a connection: every part in the form the wire wants."""

    def __init__(
        self, scheme: str, host: str, port: int, default_port: bool, path: str, credentials: str
    ) -> None:
        self.scheme = scheme
        self.host = host  # IDNA-encoded, brackets removed from an IPv6 address
        self.port = port
        self.path = path  # percent-encoded, with the query
        self.credentials = credentials  # base64 of user:password, or ""
        name = f"[{host}]" if ":" in host else host
        self.host_header = name if default_port else f"{name}:{port}"

    @classmethod
    def parse(cls, url: str) -> _Target:
        try:
            parts = urlsplit(url)
            host = parts.hostname
            port = parts.port
            # "idna" is IDNA 2003, which is what Python's sockets and ssl use too.
            if host and not host.isascii():
                host = host.encode("idna").decode("ascii")
        except ValueError:  # a port not a number, a bracket unclosed, a label too long
            raise HTTPError("http.bad_url", url=url) from None
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not host:
            raise HTTPError("http.bad_url", url=url)
        path = quote(parts.path or "/", safe=_PATH_SAFE)
        if parts.query:
            path += "?" + quote(parts.query, safe=_QUERY_SAFE)
        credentials = ""
        if parts.username is not None:
            pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            credentials = base64.b64encode(pair.encode("utf-8")).decode("ascii")
        default = 443 if scheme == "https" else 80
        return cls(scheme, host, port or default, port in (None, default), path, credentials)


def _proxy_for(target: _Target) -> _Target | None:
    """The proxy the environment names for this address, or None (none, or bypassed)."""
    if sys.platform not in ("darwin", "win32") and not any(
        name.lower().endswith("_proxy") for name in os.environ
    ):
        # What urllib.request.getproxies() answers here (it reads only these variables
        # outside macOS and Windows), without its 5 ms of imports (tempfile, hashlib...).
        return None
    import urllib.request

    proxy = urllib.request.getproxies().get(target.scheme)
    if not proxy or urllib.request.proxy_bypass(f"{target.host}:{target.port}"):
        return None
    if "://" not in proxy:  # "proxy.example:3128", as curl and urllib accept it
        proxy = "http://" + proxy
    if not proxy.lower().startswith("http://"):  # socks5://, https://: not ours to speak
        raise HTTPError("http.proxy_unsupported", url=without_credentials(proxy))
    try:
        return _Target.parse(proxy)
    except HTTPError:
        raise HTTPError("http.bad_proxy", url=without_credentials(proxy)) from None


def without_credentials(url: str) -> str:
    """The address to show in a message: a proxy's password is not for the screen."""
    scheme, sep, rest = url.partition("://")
    netloc, slash, path = rest.partition("/")
    return scheme + sep + netloc.rpartition("@")[2] + slash + path


# --- TLS --------------------------------------------------------------------------------
_tls: ssl.SSLContext | None = None
_tls_lock = threading.Lock()


def tls_context() -> ssl.SSLContext:
    """The process's one TLS context: the system's trust store, loaded at the first call.

    certifi's bundle, when it is installed, is loaded only if the system's store is empty
    (python.org's macOS builds ship OpenSSL without one until "Install Certificates" is
    run): never beside a working store, whose own additions (a company's CA, a LAN
    server's certificate) it must not dilute."""
    global _tls
    with _tls_lock:
        if _tls is None:
            import ssl

            context = ssl.create_default_context()
            if _store_is_empty(context):
                with contextlib.suppress(ImportError):
                    import certifi

                    context.load_verify_locations(cafile=certifi.where())
            _tls = context
        return _tls


def _store_is_empty(context: ssl.SSLContext) -> bool:
    """No certificate loaded from a file and no directory to look them up in (OpenSSL
    reads a directory's certificates only when one is needed, so they are not counted)."""
    import ssl

    if context.get_ca_certs():
        return False
    directory = ssl.get_default_verify_paths().capath
    if not directory:
        return True
    try:
        with os.scandir(directory) as entries:
            return not any(entries)
    except OSError:  # unreadable: OpenSSL's to judge, not ours
        return False


# --- http.client's classes, with what it leaves to its callers -------------------------
@functools.cache
def _connection_classes() -> tuple[
    type[http.client.HTTPConnection], type[http.client.HTTPSConnection]
]:
    """http.client's two connections, answering with :class:`InterimAwareResponse`
    (made at the first request, since http.client is imported then)."""
    import http.client

    class InterimAwareResponse(http.client.HTTPResponse):
        """Takes every interim answer (1xx but 101) for what it is, not only 100."""

        def _read_status(self) -> tuple[str, int, str]:
            # Private to http.client (begin() loops on it past each 100, _tunnel() reads a
            # proxy's answer to CONNECT with it), so typeshed leaves it out; the interim
            # tests of test_remote_http.py fail if a Python renames or reshapes it.
            version, status, reason = super()._read_status()  # type: ignore[misc]
            if 100 < status < 200 and status != 101:
                # 102 Processing, 103 Early Hints: http.client's own loop skips a 100's
                # headers and reads the next status line; the same holds for these.
                return version, http.client.CONTINUE, reason
            return version, status, reason

    def connect_ascii(address: tuple[str, int], *args: Any) -> socket.socket:
        # Hosts are ASCII by now (IDNA-encoded above); given as bytes, getaddrinfo does
        # not pass them through the "idna" codec, whose import costs 1 ms.
        # typeshed types the host as str; create_connection hands it to getaddrinfo as it
        # is, which takes bytes as well (and is typed so).
        host = address[0].encode("ascii")
        return socket.create_connection((host, address[1]), *args)  # type: ignore[arg-type]

    class Plain(http.client.HTTPConnection):
        response_class = InterimAwareResponse

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._create_connection = connect_ascii

    class Secure(http.client.HTTPSConnection):
        response_class = InterimAwareResponse

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._create_connection = connect_ascii

    return Plain, Secure


def _near(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:40] or type(exc).__name__


def _text(line: bytes) -> str:
    if line.endswith(b"\r"):
        line = line[:-1]
    return line.decode("utf-8", errors="replace")
