"""Raw HTTP/1.1 over a socket: requests an HTTP client would refuse to send or would normalise away.

Every exchange is bounded: a reply is read by its ``Content-Length``, then the connection must close
within ``timeout`` (every error answer carries ``Connection: close``). A server that hangs fails the
test with ``socket.timeout`` instead of blocking the suite.
"""

from __future__ import annotations

import contextlib
import json
import queue
import socket
import ssl
import struct
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from pvegateway.http.api import Exchange

TIMEOUT = 5.0


@dataclass
class Reply:
    status: int
    reason: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes
    closed: bool  # the server closed the connection after its answer

    def header(self, name: bytes) -> bytes | None:
        return next((v for k, v in self.headers if k.lower() == name), None)

    def names(self) -> set[bytes]:
        return {k.lower() for k, _ in self.headers}

    def json(self) -> Any:
        return json.loads(self.body)


def _read_head(sock: socket.socket) -> tuple[bytes, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before a complete answer: {data!r}")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def exchange(port: int, request: bytes, *, wait_close: bool = True, timeout: float = TIMEOUT) -> Reply:
    """Send ``request`` whole, read one answer; with ``wait_close``, also wait for the server's close."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        head, body = _read_head(sock)
        status_line, *lines = head.split(b"\r\n")
        _, status, reason = [*status_line.split(b" ", 2), b""][:3]
        headers = [(k.strip(), v.strip()) for k, _, v in (line.partition(b":") for line in lines)]
        length = next((int(v) for k, v in headers if k.lower() == b"content-length"), 0)
        while len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
        closed = False
        if wait_close:
            rest = sock.recv(65536)
            assert rest == b"", f"bytes after the answer: {rest!r}"
            closed = True
        return Reply(int(status), reason, headers, body[:length], closed)


def request(method: str, target: bytes | str, *, headers: dict[str, str] | None = None,
            raw_headers: bytes = b"", body: bytes | None = None, content_type: str | None = None,
            length: int | None = None) -> bytes:
    """One request's bytes: ``Content-Length`` is the body's unless ``length`` says otherwise."""
    path = target.encode("latin-1") if isinstance(target, str) else target
    head = b"%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" % (method.encode(), path)
    for name, value in (headers or {}).items():
        head += f"{name}: {value}\r\n".encode("latin-1")
    if content_type is not None:
        head += f"Content-Type: {content_type}\r\n".encode("latin-1")
    if length is not None or body is not None:
        head += b"Content-Length: %d\r\n" % (length if length is not None else len(body or b""))
    return head + raw_headers + b"\r\n" + (body or b"")


@dataclass(frozen=True)
class Login:
    userid: str
    ticket: str
    csrf: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Cookie": f"PVEAuthCookie={self.ticket}", "CSRFPreventionToken": self.csrf}


def login(base: str, username: str, password: str) -> Login:
    response = httpx.post(f"{base}/api2/json/access/ticket", data={"username": username, "password": password})
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    return Login(data["username"], data["ticket"], data["CSRFPreventionToken"])


def _tcp_row(local: tuple[str, int], remote: tuple[str, int]) -> list[str] | None:
    """The kernel's line for the TCP socket ``local`` -> ``remote`` (IPv4), from /proc/net/tcp."""

    def address(host: str, port: int) -> str:
        return f"{int.from_bytes(socket.inet_aton(host), 'little'):08X}:{port:04X}"

    wanted = (address(*local), address(*remote))
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if (fields[1], fields[2]) == wanted:
            return fields
    return None


def _tcp_queues(local: tuple[str, int], remote: tuple[str, int]) -> tuple[int, int] | None:
    """The send and receive queues of the TCP socket ``local`` -> ``remote``."""
    fields = _tcp_row(local, remote)
    if fields is None:
        return None
    tx, rx = fields[4].split(":")
    return int(tx, 16), int(rx, 16)


def wait_read(sock: socket.socket, timeout: float = TIMEOUT) -> None:
    """Until the server has taken off its socket every byte ``sock`` sent (both ends' queues are empty):
    what the test does next, the server sees after those bytes. A bounded poll of the kernel's counters,
    not a sleep standing in for the server's progress."""
    client, server = sock.getsockname()[:2], sock.getpeername()[:2]
    deadline = time.monotonic() + timeout
    while (_tcp_queues(client, server) or (1, 0))[0] or (_tcp_queues(server, client) or (0, 1))[1]:
        assert time.monotonic() < deadline, "the server did not read what was sent"
        time.sleep(0.001)


_LAST_ACK = "09"  # /proc/net/tcp's state of a socket closed after its peer's FIN, awaiting the last ACK


def ends(sock: socket.socket) -> tuple[tuple[str, int], tuple[str, int]]:
    """The connection's client and server addresses (taken before a cut: a closed socket has none)."""
    return sock.getsockname()[:2], sock.getpeername()[:2]


def wait_server_closed(connection: tuple[tuple[str, int], tuple[str, int]], timeout: float = TIMEOUT) -> None:
    """Until the server has closed its end of ``connection`` (``ends``): its socket is gone, or closed
    and waiting for the client's last ACK. The server has handled the client's leaving by then. A
    bounded poll of the kernel's table, as in ``wait_read``."""
    client, server = connection
    deadline = time.monotonic() + timeout
    while (row := _tcp_row(server, client)) is not None and row[3] != _LAST_ACK:
        assert time.monotonic() < deadline, "the server did not close the connection the client left"
        time.sleep(0.001)


def cut(sock: socket.socket, how: str) -> None:
    """End a connection abruptly: ``close`` (FIN; under TLS without close_notify, as ``SSLSocket.close``
    never sends one), ``reset`` (RST: SO_LINGER 0) or ``half-close`` (FIN, ``shutdown(SHUT_WR)``: the
    socket can still read, and the caller closes it)."""
    if how == "half-close":
        sock.shutdown(socket.SHUT_WR)
        return
    if how == "reset":
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


class Answers:
    """An ``Observer`` for the gateway (``ApiApp.observer``): each request it finished, in order, so a
    test can wait until the gateway is done with one it sent (status 0: it sent no answer)."""

    def __init__(self) -> None:
        self.finished: queue.Queue[Exchange] = queue.Queue()

    def record(self, exchange: Exchange) -> None:
        self.finished.put(exchange)

    def next(self, timeout: float = TIMEOUT) -> Exchange:
        return self.finished.get(timeout=timeout)

    def clear(self) -> None:
        while not self.finished.empty():
            self.finished.get_nowait()


def client_hello_start() -> bytes:
    """The first half of a real TLS ClientHello: a handshake begun and never finished."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    outgoing = ssl.MemoryBIO()
    tls = context.wrap_bio(ssl.MemoryBIO(), outgoing, server_hostname="127.0.0.1")
    with contextlib.suppress(ssl.SSLWantReadError):
        tls.do_handshake()
    hello = outgoing.read()
    return hello[:len(hello) // 2]
