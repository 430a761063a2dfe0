"""Raw HTTP/1.1 over a socket: requests an HTTP client would refuse to send or would normalise away.

Every exchange is bounded: a reply is read by its ``Content-Length``, then the connection must close
within ``timeout`` (every error answer carries ``Connection: close``). A server that hangs fails the
test with ``socket.timeout`` instead of blocking the suite.
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from typing import Any

import httpx

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
