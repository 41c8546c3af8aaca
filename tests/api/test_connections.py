"""The server's connection protocol: request headers that trickle in are cut off at their deadline."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

from digihuman.api.connections import with_header_deadline


async def hello(scope, receive, send):  # type: ignore[no-untyped-def]
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


@pytest.fixture
def port() -> Iterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(hello, log_config=None, log_level="warning", lifespan="off",
                            http=with_header_deadline(0.5), timeout_keep_alive=5)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    yield sock.getsockname()[1]
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


def _response(conn: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"ok"):
        chunk = conn.recv(1024)
        assert chunk, "the server closed the connection"
        data += chunk
    return data


def _closed_after(conn: socket.socket, trickle: bytes) -> float:
    """Send ``trickle`` a byte every 0.1 s until the server closes the connection; seconds until then."""
    started = time.monotonic()
    conn.settimeout(0.1)
    for byte in trickle:
        try:
            conn.sendall(bytes([byte]))
            if conn.recv(1024) == b"":
                break
        except TimeoutError:
            continue
        except (BrokenPipeError, ConnectionResetError):
            break
    return time.monotonic() - started


def test_slow_headers_on_a_new_connection_are_cut_off(port):
    with socket.create_connection(("127.0.0.1", port)) as conn:
        elapsed = _closed_after(conn, b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100)
    assert 0.4 < elapsed < 2.0


def test_slow_headers_of_a_second_request_are_cut_off_too(port):
    with socket.create_connection(("127.0.0.1", port)) as conn:
        conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _response(conn).startswith(b"HTTP/1.1 200")
        elapsed = _closed_after(conn, b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100)
    assert 0.4 < elapsed < 2.0


def test_prompt_requests_are_served_past_the_deadline(port):
    with socket.create_connection(("127.0.0.1", port)) as conn:
        for _ in range(3):  # kept alive across requests, each well within its own deadline
            conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert _response(conn).startswith(b"HTTP/1.1 200")
            time.sleep(0.3)
