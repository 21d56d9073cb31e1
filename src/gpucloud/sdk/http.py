"""The SDK's HTTP/1.1 transport: one keep-alive connection to one server, over a socket (TLS for ``https``).

It speaks the part of HTTP/1.1 that a JSON API needs: a request with an optional body, and a response whose body
is delimited by ``Content-Length``, by chunked transfer coding, or by the server closing the connection. A
connection that the server closed while it was idle is opened again once, transparently (no byte of an answer
had arrived, so the server never saw the request).

Why not :mod:`http.client`: importing it costs about 20 ms (it parses headers with the ``email`` package),
as much as everything else a CLI command does, and a command that scripts call thousands of times pays it on
each call. The asynchronous client (:mod:`gpucloud.sdk.aio`) uses httpx instead.
"""

from __future__ import annotations

import select
import socket
from urllib.parse import urlsplit

#: The longest status or header line accepted, and the most header lines.
MAX_LINE = 65_536
MAX_HEADERS = 200


class TransportError(Exception):
    """The request could not be sent or its answer not read; the message says why in a few words."""


class ConnectFailed(TransportError):
    """No connection to the server (refused, unknown host, unreachable)."""


class TimedOut(TransportError):
    """The server did not answer within the timeout."""


class Response:
    """A status, lower-cased headers and the whole body."""

    __slots__ = ("body", "headers", "reason", "status")

    def __init__(self, status: int, reason: str, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


class Connection:
    """A persistent HTTP/1.1 connection to the server at ``url`` (``http://host:port`` or ``https://...``)."""

    def __init__(self, url: str, timeout: float) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        self.tls = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port or (443 if self.tls else 80)
        default = 443 if self.tls else 80
        name = f"[{self.host}]" if ":" in self.host else self.host
        self.host_header = name if self.port == default else f"{name}:{self.port}"
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._reader: _Reader | None = None

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
        self._sock = self._reader = None

    def request(self, method: str, target: str, headers: dict[str, str], body: bytes | None = None) -> Response:
        """Send one request (``target`` is the path and query) and read its whole answer."""
        head = [f"{method} {target} HTTP/1.1", f"Host: {self.host_header}"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        if body is not None:
            head.append(f"Content-Length: {len(body)}")
        data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + (body or b"")
        reused = self._sock is not None
        try:
            try:
                return self._exchange(method, data)
            except _StaleConnection:
                if not reused:
                    raise TransportError("the server closed the connection without answering") from None
                self.close()
                return self._exchange(method, data)
        except TimeoutError:
            self.close()
            raise TimedOut("no answer in time") from None
        except (TransportError, OSError) as exc:
            self.close()
            if isinstance(exc, TransportError):
                raise
            raise TransportError(exc.strerror or str(exc) or type(exc).__name__) from None

    # --- one exchange ----------------------------------------------------------------------------------------

    def _connect(self) -> _Reader:
        try:
            # an ASCII host name as bytes (getaddrinfo takes either): a str would load the IDNA codec, which costs
            # more than connecting
            host = self.host.encode() if self.host.isascii() else self.host
            sock = socket.create_connection((host, self.port), timeout=self.timeout)  # type: ignore[arg-type]
        except TimeoutError:
            raise TimedOut("connecting timed out") from None
        except OSError as exc:
            raise ConnectFailed(_why(exc)) from None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.tls:
            import ssl  # only for https: importing it costs as much as everything else here

            try:
                sock = ssl.create_default_context().wrap_socket(sock, server_hostname=self.host)
            except (ssl.SSLError, ssl.CertificateError) as exc:
                sock.close()
                raise ConnectFailed(f"TLS failed: {exc}") from None
        self._sock = sock
        self._reader = _Reader(sock)
        return self._reader

    def _idle_closed(self) -> bool:
        """Whether the kept-alive connection became readable while idle: the server closed it (or broke it)."""
        assert self._sock is not None
        readable, _, _ = select.select([self._sock], [], [], 0)
        return bool(readable)

    def _exchange(self, method: str, data: bytes) -> Response:
        if self._sock is not None and self._idle_closed():
            self.close()
        reader = self._reader or self._connect()
        assert self._sock is not None
        try:
            self._sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            raise _StaleConnection() from None
        try:
            status_line = reader.line()
        except ConnectionResetError:
            raise _StaleConnection() from None
        if not status_line:
            raise _StaleConnection()
        status, reason = _status(status_line)
        headers = _headers(reader)
        while 100 <= status < 200:  # interim answers (100 Continue, 103 Early Hints): the real one follows
            status, reason = _status(reader.line())
            headers = _headers(reader)
        if method == "HEAD" or status in (204, 304):
            body = b""
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            body = _chunked(reader)
        elif "content-length" in headers:
            try:
                length = int(headers["content-length"])
            except ValueError:
                raise TransportError(f"bad Content-Length {headers['content-length']!r}") from None
            body = reader.exactly(length)
        else:
            body = reader.rest()
            headers["connection"] = "close"
        if headers.get("connection", "").lower() == "close":
            self.close()
        return Response(status, reason, headers, body)


class _StaleConnection(Exception):
    """The server closed a kept-alive connection before it answered: send again on a new one."""


class _Reader:
    """Buffered reads from a socket: lines, exact lengths, and everything up to the end."""

    def __init__(self, sock: socket.socket) -> None:
        self._file = sock.makefile("rb")

    def line(self) -> bytes:
        line = self._file.readline(MAX_LINE + 1)
        if len(line) > MAX_LINE:
            raise TransportError("a header line of the answer is too long")
        return line

    def exactly(self, n: int) -> bytes:
        data = self._file.read(n)
        if len(data) < n:
            raise TransportError(f"the answer ended after {len(data)} of {n} bytes")
        return data

    def rest(self) -> bytes:
        return self._file.read()


def _why(exc: OSError) -> str:
    if isinstance(exc, socket.gaierror):
        return f"unknown host ({exc.strerror or exc})"
    return exc.strerror or str(exc) or type(exc).__name__


def _status(line: bytes) -> tuple[int, str]:
    parts = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise TransportError(f"not an HTTP answer: {line[:60]!r}")
    return int(parts[1]), parts[2] if len(parts) > 2 else ""


def _headers(reader: _Reader) -> dict[str, str]:
    headers: dict[str, str] = {}
    for _ in range(MAX_HEADERS):
        line = reader.line()
        if line in (b"\r\n", b"\n", b""):
            return headers
        name, sep, value = line.decode("latin-1").partition(":")
        if not sep:
            raise TransportError(f"bad header line {line[:60]!r}")
        key = name.strip().lower()
        value = value.strip()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    raise TransportError("too many header lines in the answer")


def _chunked(reader: _Reader) -> bytes:
    parts: list[bytes] = []
    while True:
        size_line = reader.line().split(b";", 1)[0].strip()
        try:
            size = int(size_line, 16)
        except ValueError:
            raise TransportError(f"bad chunk size {size_line[:20]!r}") from None
        if size == 0:
            _headers(reader)  # trailers, if any, end with an empty line
            return b"".join(parts)
        parts.append(reader.exactly(size))
        reader.exactly(2)  # the CRLF after the chunk
