"""A tiny HTTP server on a real socket whose answers the test writes byte by byte (:class:`RawServer`): for what
uvicorn never does on request — chunked bodies, bodies delimited by closing, dropped connections."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable

#: Handles one connection: gets the socket, returns when done with it (the server then closes it).
Handler = Callable[[socket.socket], None]


def read_request(conn: socket.socket) -> tuple[bytes, bytes]:
    """One request's head and body (by its Content-Length); (b"", b"") when the client closed first."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return b"", b""
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        body += conn.recv(65536)
    return head, body


class RawServer:
    """Serves connections one after another, each with the next handler of ``handlers``."""

    def __init__(self, handlers: list[Handler]) -> None:
        self.handlers = list(handlers)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.connections = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        for handler in self.handlers:
            conn, _ = self.sock.accept()
            self.connections += 1
            with conn:
                handler(conn)

    def close(self) -> None:
        self.sock.close()
        self.thread.join(timeout=5)
