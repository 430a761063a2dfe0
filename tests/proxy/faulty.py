"""Upstream PVE nodes that fail on purpose, one way each, for the proxy's resilience tests.

Each is a tiny HTTP/1.1 server on 127.0.0.1 (asyncio streams, TLS optional) whose *responder* decides
what a request gets: a healthy answer, a PVE error, a stall, a reset mid-body, garbage. A node counts
its connections and keeps every request it read, so a test can assert that a request never reached
it; stalls and resets wait on an ``asyncio.Event`` the test sets, never on time. Its port is bound
before it listens, and a bound socket that does not listen refuses connections: a node starts out as
a refusing one and becomes a live one when ``listen()`` is called, on the same port.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import ssl
import struct
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from email.utils import formatdate
from types import TracebackType
from typing import Any

_MAX_HEAD = 64 * 1024


@dataclass(frozen=True)
class Request:
    """One request as the node read it off the wire."""

    method: str
    target: str
    headers: dict[str, str]  # names lowercased
    body: bytes

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]


# what one request gets; it returns whether the connection is kept for another request
Responder = Callable[[Request, asyncio.StreamWriter], Awaitable[bool]]


async def read_request(reader: asyncio.StreamReader) -> Request | None:
    """The next request on a connection, or None once the peer closed it."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0") or "0")
    body = await reader.readexactly(length) if length else b""
    return Request(method, target, headers, body)


class Node:
    """A fake upstream node on 127.0.0.1: refuses connections until ``listen()``, then lets
    ``responder`` answer each request. Use as ``async with Node(...) as node:``."""

    def __init__(self, responder: Responder, *, tls: ssl.SSLContext | None = None) -> None:
        self.responder = responder
        self.tls = tls
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]
        self.connections = 0
        self.requests: list[Request] = []
        self._arrived = asyncio.Condition()
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[Any]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._closed = False

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def name(self) -> str:
        """How the gateway names this node in its error messages."""
        return f"127.0.0.1:{self.port}"

    async def listen(self) -> None:
        self._server = await asyncio.start_server(self._serve, sock=self.sock, ssl=self.tls,
                                                  limit=_MAX_HEAD)

    async def wait_requests(self, count: int) -> list[Request]:
        """The first ``count`` requests, once that many have arrived."""
        async with self._arrived:
            await self._arrived.wait_for(lambda: len(self.requests) >= count)
        return self.requests[:count]

    async def close(self) -> None:
        """Stops listening and drops every connection (requests in flight at the gateway fail at once)."""
        if self._closed:
            return
        self._closed = True
        if self._server is None:
            self.sock.close()
            return
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()

    async def __aenter__(self) -> Node:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, err: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self._writers.add(writer)
        self.connections += 1
        try:
            keep = True
            while keep:
                request = await read_request(reader)
                if request is None:
                    break
                async with self._arrived:
                    self.requests.append(request)
                    self._arrived.notify_all()
                keep = await self.responder(request, writer)
            writer.close()  # what asyncio still buffers goes out before the FIN (``abort`` below drops it)
            await writer.wait_closed()
        except (ConnectionError, ssl.SSLError, asyncio.LimitOverrunError, ValueError):
            pass  # the gateway hung up or sent something this small server does not parse
        except asyncio.CancelledError:
            pass  # close() ends a stalled answer; asyncio's streams would log a cancelled handler as an error
        finally:
            self._writers.discard(writer)
            self._handlers.discard(task)
            writer.transport.abort()


def server_tls(cert: str, key: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


# ---- responders -------------------------------------------------------------------------------------

def pve_headers(length: int, *, keep_alive: bool = True) -> list[tuple[str, str]]:
    """The headers pveproxy sends with a JSON answer."""
    return [
        ("Cache-Control", "max-age=0"),
        ("Connection", "Keep-Alive" if keep_alive else "close"),
        ("Date", formatdate(usegmt=True)),
        ("Pragma", "no-cache"),
        ("Server", "pve-api-daemon/3.0"),
        ("Content-Length", str(length)),
        ("Content-Type", "application/json;charset=UTF-8"),
        ("Expires", formatdate(usegmt=True)),
    ]


def head(status: int, reason: str, headers: Sequence[tuple[str, str]]) -> bytes:
    lines = [f"HTTP/1.1 {status} {reason}"] + [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def pve_json(data: Any) -> bytes:
    return json.dumps({"data": data}, separators=(",", ":")).encode()


def answer(status: int = 200, reason: str = "OK", body: bytes | None = None, *, keep_alive: bool = True) -> Responder:
    """A complete answer, by default PVE's success envelope naming the node's port."""

    async def respond(request: Request, writer: asyncio.StreamWriter) -> bool:
        payload = body if body is not None else pve_json({"path": request.path, "method": request.method})
        writer.write(head(status, reason, pve_headers(len(payload), keep_alive=keep_alive)) + payload)
        await writer.drain()
        return keep_alive

    return respond


def pve_error(status: int, message: str) -> tuple[Responder, bytes]:
    """PVE's failure: reason = the message's first line, body = ``{"data":null,"message":...}``, and the
    connection closed (pveproxy never keeps one after an error). The exact bytes come back with it."""
    body = json.dumps({"data": None, "message": message}, separators=(",", ":")).encode()
    return answer(status, message.split("\n", 1)[0], body, keep_alive=False), body


def stall(release: asyncio.Event, then: Responder | None = None) -> Responder:
    """Reads the request and says nothing until ``release`` is set; then answers with ``then``, or hangs up."""

    async def respond(request: Request, writer: asyncio.StreamWriter) -> bool:
        await release.wait()
        return await then(request, writer) if then is not None else False

    return respond


def stall_body(release: asyncio.Event, body: bytes, sent: int) -> Responder:
    """Sends the headers (Content-Length of the whole ``body``) and ``sent`` bytes of it, then nothing
    more until ``release`` is set, and then hangs up."""

    async def respond(request: Request, writer: asyncio.StreamWriter) -> bool:
        writer.write(head(200, "OK", pve_headers(len(body))) + body[:sent])
        await writer.drain()
        await release.wait()
        return False

    return respond


def reset_mid_body(cut: asyncio.Event, body: bytes, sent: int) -> Responder:
    """Sends the headers (Content-Length of the whole ``body``) and ``sent`` bytes, and once ``cut`` is
    set resets the connection (RST: SO_LINGER 0), as a node whose pveproxy worker died would."""

    async def respond(request: Request, writer: asyncio.StreamWriter) -> bool:
        writer.write(head(200, "OK", pve_headers(len(body))) + body[:sent])
        await writer.drain()
        await cut.wait()
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()
        return False

    return respond


def garbage(data: bytes = b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n") -> Responder:
    """Answers bytes that are not HTTP (by default an SSH banner: the upstream port points at sshd)."""

    async def respond(request: Request, writer: asyncio.StreamWriter) -> bool:
        writer.write(data)
        await writer.drain()
        return False

    return respond


@dataclass
class Sent:
    """What a node got out before the gateway hung up: bytes, whether that was everything, and when it
    stopped (``ended``: it finished, or the gateway hung up)."""

    bytes: int = 0
    all: bool = False
    ended: asyncio.Event = field(default_factory=asyncio.Event)


def sending(pieces: Iterable[bytes], sent: Sent, pause: float = 0.0) -> Responder:
    """Writes ``pieces`` one after another (``pause`` between them: a dribble), counting what the
    gateway took, until the gateway hangs up."""

    async def respond(request: Request, writer: asyncio.StreamWriter) -> bool:
        try:
            for piece in pieces:
                writer.write(piece)
                await writer.drain()  # raises once the gateway is gone
                sent.bytes += len(piece)
                if pause:
                    await asyncio.sleep(pause)  # the dribbling node under test
            sent.all = True
        finally:
            sent.ended.set()
        return False

    return respond


def by_path(routes: Mapping[str, Responder], default: Responder) -> Responder:
    """``routes[path]`` for a request to that path (query left out), ``default`` for the rest."""

    async def respond(request: Request, writer: asyncio.StreamWriter) -> bool:
        return await routes.get(request.path, default)(request, writer)

    return respond


@contextlib.asynccontextmanager
async def nodes(*responders: Responder | None, tls: ssl.SSLContext | None = None) -> AsyncIterator[list[Node]]:
    """Nodes in order; ``None`` gives a refusing one (bound, not listening)."""
    made: list[Node] = []
    try:
        for responder in responders:
            node = Node(responder or answer(), tls=tls)
            if responder is not None:
                await node.listen()
            made.append(node)
        yield made
    finally:
        for node in made:
            await node.close()
