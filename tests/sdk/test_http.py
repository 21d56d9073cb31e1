"""The SDK's HTTP/1.1 transport against servers that answer in every way the protocol allows: chunked bodies,
bodies delimited by closing the connection, interim answers, kept-alive connections the server closed while
idle, and connections dropped before an answer (where a submit is sent once more with the same key)."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

import pytest
from raw_server import RawServer, read_request

from gpucloud.cli.entry import main as gpucloud_main
from gpucloud.sdk.client import Client
from gpucloud.sdk.errors import ApiError
from gpucloud.sdk.http import Connection, TransportError


def answer(status: str, body: bytes, *headers: str) -> bytes:
    return (f"HTTP/1.1 {status}\r\n" + "".join(h + "\r\n" for h in headers) + "\r\n").encode() + body


def test_content_length_keep_alive_and_one_connection() -> None:
    seen: list[bytes] = []

    def two_requests(conn: socket.socket) -> None:
        for n in (1, 2):
            head, _ = read_request(conn)
            seen.append(head.split(b"\r\n")[0])
            payload = json.dumps({"n": n}).encode()
            conn.sendall(answer("200 OK", payload, f"Content-Length: {len(payload)}", "Content-Type: a/json"))

    server = RawServer([two_requests])
    with Client(server.url, "gpc_t") as client:
        assert client.get("/a", x=1) == {"n": 1}
        assert client.get("/b", flag=True, many=["p", "q"]) == {"n": 2}
    server.close()
    assert server.connections == 1
    assert seen == [b"GET /api/v1/a?x=1 HTTP/1.1", b"GET /api/v1/b?flag=true&many=p&many=q HTTP/1.1"]


def test_chunked_body_with_trailers_and_an_interim_answer() -> None:
    def chunked(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        conn.sendall(answer("200 OK", b"4;ext=1\r\n{\"a\"\r\n4\r\n: [1\r\n2\r\n]}\r\n0\r\nX-Trailer: 1\r\n\r\n",
                            "Transfer-Encoding: chunked"))

    server = RawServer([chunked])
    with Client(server.url, "gpc_t") as client:
        assert client.get("/x") == {"a": [1]}
    server.close()


def test_body_delimited_by_close_then_a_new_connection() -> None:
    def close_delimited(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(answer("200 OK", b'{"first": true}'))

    def normal(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(answer("200 OK", b"[]", "Content-Length: 2"))

    server = RawServer([close_delimited, normal])
    with Client(server.url, "gpc_t") as client:
        assert client.get("/x") == {"first": True}
        assert client.get("/y") == []
    server.close()
    assert server.connections == 2


def test_a_kept_alive_connection_closed_while_idle_is_opened_again() -> None:
    closed = threading.Event()

    def answer_once_then_close(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(answer("200 OK", b"1", "Content-Length: 1"))
        conn.shutdown(socket.SHUT_RDWR)
        closed.set()

    server = RawServer([answer_once_then_close, answer_once_then_close])
    conn = Connection(server.url, timeout=5)
    assert conn.request("GET", "/a", {}).body == b"1"
    assert closed.wait(5)  # the server has closed the kept-alive connection
    assert conn.request("POST", "/b", {}, b"{}").body == b"1"
    conn.close()
    server.close()
    assert server.connections == 2


def test_a_dropped_submit_is_sent_again_with_the_same_key(tmp_path: Path) -> None:
    bodies: list[dict[str, object]] = []

    def drop(conn: socket.socket) -> None:
        bodies.append(json.loads(read_request(conn)[1]))

    def accept(conn: socket.socket) -> None:
        bodies.append(json.loads(read_request(conn)[1]))
        payload = b'{"id": 9, "created": true}'
        conn.sendall(answer("201 Created", payload, f"Content-Length: {len(payload)}"))

    server = RawServer([drop, accept])
    env = {"GPUCLOUD_URL": server.url, "GPUCLOUD_TOKEN": "gpc_t", "GPUCLOUD_CONFIG": str(tmp_path / "c.json")}
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        assert gpucloud_main(["submit", "--", "true"]) == 0
    server.close()
    assert len(bodies) == 2 and bodies[0] == bodies[1]
    assert str(bodies[0]["idempotency_key"]).startswith("cli-")


def test_other_calls_are_not_sent_twice() -> None:
    def drop(conn: socket.socket) -> None:
        read_request(conn)

    server = RawServer([drop])
    with Client(server.url, "gpc_t") as client, pytest.raises(ApiError) as info:
        client.post("/tokens", {"description": "x"})
    server.close()
    assert server.connections == 1
    assert str(info.value).startswith(f"talking to the gpucloud server at {server.url} failed")


def test_refused_connection_names_the_url() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"  # bound, not listening: connections are refused
        with Client(url, "gpc_t") as client, pytest.raises(ApiError) as info:
            client.get("/jobs")
    assert str(info.value) == f"cannot reach the gpucloud server at {url}: Connection refused"
    assert info.value.status == 0


def test_garbage_is_not_an_answer() -> None:
    def garbage(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(b"SSH-2.0-OpenSSH_9\r\n")

    server = RawServer([garbage])
    conn = Connection(server.url, timeout=5)
    with pytest.raises(TransportError, match="not an HTTP answer"):
        conn.request("GET", "/", {})
    server.close()


def test_bad_urls() -> None:
    for url in ("ftp://x", "http://"):
        with pytest.raises(ApiError, match="bad server URL"):
            Client(url, "gpc_t")
