"""The gateway's protocol writes a whole answer (start, then one body message that ends it) itself, in
one pass, instead of through uvicorn's ``send``. What reaches the client must be what uvicorn writes:
the oracle is uvicorn's own httptools protocol, serving the same app in the same run, byte for byte
(the Date header aside), over a raw socket. Answers the one-pass writer does not take (chunked, HEAD,
204 without a length, streamed, a length that does not match, a header uvicorn refuses) must come out
the same too, through uvicorn's path. Its keep-alive timeout, one timer per connection, must close an
idle connection as uvicorn's does and never a busy one.
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from pvegateway.http._uvicorn import PVEHttpToolsProtocol
from pvegateway.testing_server import ThreadedServer
from tests.live import live_server

Message = dict[str, Any]
BODY = b'{"data":{"version":"9.2"}}'
LENGTH = str(len(BODY)).encode()

# path -> the messages the app sends
ANSWERS: dict[str, list[Message]] = {
    "/plain": [
        {"type": "http.response.start", "status": 200, "headers": [
            (b"Cache-Control", b"max-age=0"), (b"content-type", b"application/json"), (b"content-length", LENGTH)]},
        {"type": "http.response.body", "body": BODY},
    ],
    "/error-closes": [
        {"type": "http.response.start", "status": 500, "headers": [
            (b"content-length", LENGTH), (b"Connection", b"Keep-Alive, close")]},
        {"type": "http.response.body", "body": BODY, "more_body": False},
    ],
    "/no-length": [
        {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]},
        {"type": "http.response.body", "body": b"chunked by the server"},
    ],
    "/empty-204": [
        {"type": "http.response.start", "status": 204, "headers": []},
        {"type": "http.response.body", "body": b""},
    ],
    "/streamed": [
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"6")]},
        {"type": "http.response.body", "body": b"abc", "more_body": True},
        {"type": "http.response.body", "body": b"def"},
    ],
    "/too-short": [  # an app's bug: uvicorn refuses it (the connection ends after the head)
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"99")]},
        {"type": "http.response.body", "body": BODY},
    ],
    "/bad-header": [  # a CR/LF in a value: uvicorn refuses it before writing anything
        {"type": "http.response.start", "status": 200, "headers": [
            (b"content-length", LENGTH), (b"x-echo", b"a\r\nset-cookie: x=1")]},
        {"type": "http.response.body", "body": BODY},
    ],
    "/bad-name": [  # a space in a name: refused alike
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", LENGTH), (b"x bad", b"1")]},
        {"type": "http.response.body", "body": BODY},
    ],
    "/start-only": [  # the app returns without a body: uvicorn writes the head and closes
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", LENGTH)]},
    ],
    "/unknown-status": [
        {"type": "http.response.start", "status": 599, "headers": [(b"content-length", b"0")]},
        {"type": "http.response.body", "body": b""},
    ],
}


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    for message in ANSWERS[scope["path"]]:
        await send(message)


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[str, str]]:
    with live_server(app, protocol=HttpToolsProtocol) as stock, live_server(app, protocol=PVEHttpToolsProtocol) as ours:
        yield stock, ours


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def wire(url: str, request: bytes) -> bytes:
    """Everything the server writes for ``request`` until it closes the connection (the last request
    asks it to, or the answer does), with the Date header's value blanked."""
    with socket.create_connection(("127.0.0.1", _port(url)), timeout=5) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return re.sub(rb"(?im)^date: [^\r\n]*", b"date: -", received)


def get(path: str, method: str = "GET", close: bool = True) -> bytes:
    return (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n" + ("Connection: close\r\n" if close else "")
            + "\r\n").encode()


@pytest.mark.parametrize("path", sorted(ANSWERS))
def test_each_answer_reaches_the_client_as_uvicorn_writes_it(servers: tuple[str, str], path: str) -> None:
    stock, ours = servers
    request = get(path)
    assert wire(ours, request) == wire(stock, request)


def test_a_head_request_gets_the_head_only(servers: tuple[str, str]) -> None:
    stock, ours = servers
    request = get("/plain", "HEAD")
    written = wire(ours, request)
    assert written == wire(stock, request)
    assert written.endswith(b"\r\n\r\n") and BODY not in written


def test_keep_alive_and_pipelined_answers_match(servers: tuple[str, str]) -> None:
    """Three requests in one write: the first two answered on the open connection, in order, the
    last one closing it; the answer that says close ends the connection itself."""
    stock, ours = servers
    pipelined = get("/plain", close=False) + get("/no-length", close=False) + get("/plain")
    assert wire(ours, pipelined) == wire(stock, pipelined)
    assert wire(ours, pipelined).count(BODY) == 2
    closing = get("/error-closes", close=False) + get("/plain")
    assert wire(ours, closing) == wire(stock, closing)
    assert wire(ours, closing).count(b"HTTP/1.1") == 1


def _closed_after(sock: socket.socket, limit: float) -> float:
    """Seconds until the server closes ``sock`` (it sends nothing more), at most ``limit``."""
    started = time.monotonic()
    sock.settimeout(limit)
    assert sock.recv(1) == b""
    return time.monotonic() - started


def _answered(sock: socket.socket) -> None:
    sock.sendall(get("/plain", close=False))
    received = b""
    while not received.endswith(BODY):
        chunk = sock.recv(65536)
        assert chunk, "the server closed a connection in use"
        received += chunk


def test_the_keep_alive_timeout_counts_idle_time_only() -> None:
    """uvicorn's keep-alive timeout (here 1 s) closes a connection idle that long after its last answer,
    and never one that keeps sending requests more often, however long it lives."""
    server = ThreadedServer(app)
    server.config.timeout_keep_alive = 1
    server.start()
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            _answered(sock)
            assert 0.9 <= _closed_after(sock, 5) < 2.5
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            for _ in range(4):  # 2.4 s in all, each pause shorter than the timeout
                _answered(sock)
                time.sleep(0.6)  # the client's pause is what is tested
            _answered(sock)
            assert 0.9 <= _closed_after(sock, 5) < 2.5
    finally:
        server.close()
