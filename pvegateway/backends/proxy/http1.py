"""The proxy's HTTP/1.1 client: keep-alive connections to one node, httptools to parse the answers.

Why not aiohttp here: its client spent more than twice the CPU per request of a minimal protocol on
this path, and that difference was most of what the proxy cost (``bench/proxy.py`` measures the
proxy's cost against calling the node directly). What a PVE node needs is small: one request at a
time per connection, Content-Length bodies (pveproxy refuses chunked ones), answers framed by
Content-Length, chunked encoding or the connection's end. Everything here serves that and nothing else.

Failures are ``UpstreamFailure(reason, sent)``: ``sent`` says whether the node may have received the
request, which decides whether another node may be tried.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import hashlib
import os
import socket
import ssl
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import NamedTuple, cast

import httptools

_HIGH_WATER = 256 * 1024  # stop reading from the node while this much body waits for the client
_LOW_WATER = 64 * 1024
# An answer's status line and headers, bounded like a request's (the server's limits, http/server.py)
# but looser: a node sends about ten lines, never near these, and one that sends more is not a PVE node
MAX_HEAD_BYTES = 64 * 1024
MAX_HEAD_LINES = 100


class Usage(NamedTuple):
    """A client's connections right now: in an exchange, kept idle, and slots left before ``limit``."""

    busy: int
    idle: int
    free: int


class _Refused(Exception):
    """Raised from a parser callback to stop the parser: the exchange has failed already."""


class UpstreamFailure(Exception):
    def __init__(self, reason: str, *, sent: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.sent = sent


@dataclass(frozen=True)
class Endpoint:
    """Where one node listens and how it is trusted."""

    host: str
    port: int
    context: ssl.SSLContext | None  # None: plain HTTP
    pins: frozenset[bytes] | None = None  # SHA-256 of acceptable certificates (instead of a chain)

    @property
    def name(self) -> str:
        return f"{self.host}:{self.port}"

    @functools.cached_property  # asked for on every request; IDNA encoding alone takes ~0.6 us
    def host_header(self) -> bytes:
        default = 443 if self.context is not None else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return (host if self.port == default else f"{host}:{self.port}").encode("idna")


def _connect_reason(err: BaseException) -> str:
    if isinstance(err, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted ({err.verify_message or 'verification failed'})"
    if isinstance(err, ssl.SSLError):
        if err.reason == "WRONG_VERSION_NUMBER":  # OpenSSL's words for an answer that is not TLS at all
            return "TLS handshake failed (WRONG_VERSION_NUMBER: the node does not speak TLS)"
        return f"TLS handshake failed ({err.reason or err.__class__.__name__})"
    if isinstance(err, socket.gaierror):  # the name did not resolve: its errno is EAI_*, not one of os.strerror's
        return f"cannot connect ({err.strerror or 'name resolution failed'})"
    if isinstance(err, OSError):
        text = os.strerror(err.errno) if err.errno and err.errno > 0 else (str(err) or err.__class__.__name__)
        return f"cannot connect ({text})"
    return f"cannot connect ({err.__class__.__name__})"


class Connection(asyncio.Protocol):
    """One keep-alive connection; one exchange at a time."""

    def __init__(self, read_timeout: float) -> None:
        self.read_timeout = read_timeout
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = time.monotonic()
        self._parser = httptools.HttpResponseParser(self)
        self._loop = asyncio.get_running_loop()
        self._writable = asyncio.Event()
        self._writable.set()
        self._reset()

    def _reset(self) -> None:
        self.status = 0
        self.reason = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.received = False  # any byte of this exchange's answer
        self._head_bytes = 0  # bytes received while the answer's head was not complete
        self._head_lines = 0
        self.unfinished = False  # the request's body was not all sent: the connection cannot be reused
        self.complete = False
        self.keep_alive = False
        self._framed = False  # Content-Length or chunked: else the body ends with the connection
        self._head: asyncio.Future[None] = self._loop.create_future()
        self._chunks: collections.deque[bytes] = collections.deque()
        self._buffered = 0
        self._paused = False
        self._waiter: asyncio.Future[None] | None = None
        self._failure: UpstreamFailure | None = None
        self._timer: asyncio.TimerHandle | None = None

    # --- asyncio.Protocol --------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass it

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._writable.set()
        if self._head.done() and not self.complete and not self._framed and self._failure is None:
            self._finish()  # an answer without Content-Length ends here (PVE's bodyless 401s)
            return
        if not self.complete:
            reason = "connection closed before an answer" if not self._head.done() else "connection closed mid-body"
            self._fail(UpstreamFailure(reason, sent=True))

    def data_received(self, data: bytes) -> None:
        self.received = True
        if not self._head.done():
            self._head_bytes += len(data)
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as err:
            if self._failure is None:
                first = (str(err).splitlines() or [err.__class__.__name__])[0].rstrip(":")
                if first.startswith("Expected HTTP/"):  # llhttp's words for a first line that is not HTTP
                    first = "Bad status line"
                self._fail(UpstreamFailure(f"invalid HTTP answer ({first})", sent=True))
            self.abort()
            return
        if self._failure is not None or self.complete:
            return
        if not self._head.done():
            # the parser keeps a header it has not seen the end of: counting the raw bytes bounds that
            # too (to the limit plus one read)
            if self._head_bytes > MAX_HEAD_BYTES:
                self._refuse(f"answer head larger than {MAX_HEAD_BYTES // 1024} KiB")
            # and the head is timed as a whole, from the request's end: its bytes do not re-arm the timer
        elif not self._paused:  # a TLS transport may still hand over what it decrypted before the pause
            self._arm()  # the body's timeout is one of inactivity

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    # --- httptools callbacks -----------------------------------------------------------------------

    def on_status(self, status: bytes) -> None:
        self.reason += status

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_lines += 1
        if self._head_lines > MAX_HEAD_LINES:
            self._refuse(f"answer head of more than {MAX_HEAD_LINES} header lines")
            raise _Refused  # stops the parser
        name = name.lower()
        if name in (b"content-length", b"transfer-encoding"):
            self._framed = True
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.status = self._parser.get_status_code()
        if self.status in (204, 304) or 100 <= self.status < 200:
            self._framed = True
        if not self._head.done():
            self._head.set_result(None)

    def on_body(self, body: bytes) -> None:
        self._chunks.append(body)
        self._buffered += len(body)
        if self._buffered > _HIGH_WATER and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()
            self._disarm()  # the client is slow, not the node: no read is due until reading resumes
        self._wake()

    def on_message_complete(self) -> None:
        self.keep_alive = self._parser.should_keep_alive()
        self._finish()

    # --- the exchange ------------------------------------------------------------------------------

    def _finish(self) -> None:
        self.complete = True
        self._disarm()
        if not self._head.done():
            self._head.set_result(None)
        self._wake()

    def _fail(self, failure: UpstreamFailure) -> None:
        if self.complete or self._failure is not None:
            return
        self._failure = failure
        self._disarm()
        if not self._head.done():
            self._head.set_exception(failure)
            self._head.exception()  # retrieved: a failure nobody awaits is not an error
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _arm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._loop.call_later(self.read_timeout, self._timed_out)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _resume(self) -> None:
        """Read from the node again once the client took enough of the body; the node has
        ``read_timeout`` from here to send more."""
        self._paused = False
        if self.transport is not None:
            self.transport.resume_reading()
        if not self.complete and self._failure is None:
            self._arm()

    def _timed_out(self) -> None:
        self._timer = None
        if self.received and not self._head.done():  # a node dribbling its head: it answers, but wrongly
            reason = f"answer head not complete within {self.read_timeout:g} s"
        else:
            reason = "read timed out"
        self._refuse(reason)

    def _refuse(self, reason: str) -> None:
        """End the exchange on a node's misbehaviour: the connection is dropped, nothing more is read."""
        self._fail(UpstreamFailure(reason, sent=True))
        self.abort()

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    async def exchange(self, head: bytes, body: bytes | None, stream: AsyncIterator[bytes] | None) -> None:
        """Send a request; return once the answer's status line and headers are in."""
        self._reset()
        assert self.transport is not None  # nosec B101 # narrowing: set by connection_made before any exchange
        if self.closed:
            raise UpstreamFailure("connection closed before the request", sent=False)
        self._arm()
        self.transport.write(head + body if body else head)
        if stream is not None:
            async for chunk in stream:
                if self.closed or self._head.done():
                    self.unfinished = True  # the node answered (or went) before taking it all
                    break
                if not self._writable.is_set():
                    await self._wait_writable()
                self.transport.write(chunk)
                self._arm()
        await self._head

    async def _wait_writable(self) -> None:
        try:
            await asyncio.wait_for(self._writable.wait(), self.read_timeout)
        except TimeoutError:
            self._fail(UpstreamFailure("read timed out", sent=True))
            self.abort()
            raise self._failure or UpstreamFailure("read timed out", sent=True) from None

    async def body(self) -> AsyncIterator[bytes]:
        while True:
            if self._chunks:
                chunk = self._chunks.popleft()
                self._buffered -= len(chunk)
                if self._paused and self._buffered < _LOW_WATER:
                    self._resume()
                yield chunk
                continue
            if self.complete:
                return
            if self._failure is not None:
                raise self._failure
            self._waiter = self._loop.create_future()
            await self._waiter
            self._waiter = None

    def take_body(self) -> bytes:
        """A complete answer's whole body at once."""
        body = b"".join(self._chunks)
        self._chunks.clear()
        self._buffered = 0
        if self._paused:
            self._resume()
        return body

    async def read(self, limit: int) -> bytes:
        parts: list[bytes] = []
        size = 0
        async for chunk in self.body():
            size += len(chunk)
            if size > limit:
                raise UpstreamFailure(f"answer larger than {limit} bytes", sent=True)
            parts.append(chunk)
        return b"".join(parts)

    @property
    def reusable(self) -> bool:
        return self.complete and self.keep_alive and not (self.closed or self.unfinished or self._chunks)


class Client:
    """The connections to one node: idle ones are reused, newest first, within ``keepalive`` seconds."""

    def __init__(self, endpoint: Endpoint, *, connect_timeout: float, read_timeout: float,
                 keepalive: float, limit: int = 256) -> None:
        self.endpoint = endpoint
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.keepalive = keepalive
        self._idle: list[Connection] = []
        self._busy: set[Connection] = set()
        self.limit = limit
        self._slots = asyncio.Semaphore(limit)  # PVE stops accepting at 500 connections per worker

    @property
    def full(self) -> bool:
        """Every connection is in use: a request would have to wait for one (the pool tries others first)."""
        return self._slots.locked()

    def usage(self) -> Usage:
        """For tests and metrics: a fault must leave no connection busy and no slot taken."""
        return Usage(len(self._busy), len(self._idle), self._slots._value)

    async def connect(self) -> Connection:
        loop = asyncio.get_running_loop()
        endpoint = self.endpoint
        try:
            async with asyncio.timeout(self.connect_timeout):
                transport, connection = await loop.create_connection(
                    lambda: Connection(self.read_timeout), endpoint.host, endpoint.port, ssl=endpoint.context,
                    server_hostname=endpoint.host if endpoint.context is not None else None,
                )
        except TimeoutError:
            raise UpstreamFailure("connect timed out", sent=False) from None
        except (OSError, ssl.SSLError) as err:
            raise UpstreamFailure(_connect_reason(err), sent=False) from None
        if endpoint.pins is not None:
            cert = transport.get_extra_info("ssl_object").getpeercert(binary_form=True)
            if hashlib.sha256(cert).digest() not in endpoint.pins:
                transport.abort()
                raise UpstreamFailure("TLS certificate does not match the pinned fingerprint", sent=False)
        return connection

    def _take(self) -> Connection | None:
        now = time.monotonic()
        while self._idle:
            connection = self._idle.pop()
            if not connection.closed and now - connection.idle_since < self.keepalive:
                return connection
            connection.abort()
        return None

    async def request(self, head: bytes, body: bytes | None, stream: AsyncIterator[bytes] | None, *,
                      idempotent: bool) -> Connection:
        """The connection holding the node's answer (headers read, body to come): ``release`` it.

        Waiting for a free connection counts as connecting: when every one hangs on a stalled node, the
        wait ends after ``connect_timeout`` (nothing was sent, so another node may take the request)
        instead of lasting as long as the stalls do."""
        if not self._slots.locked():
            await self._slots.acquire()  # the usual case, without a timer to arm and cancel
        else:
            try:
                async with asyncio.timeout(self.connect_timeout):
                    await self._slots.acquire()
            except TimeoutError:
                raise UpstreamFailure(f"no free connection (all {self.limit} in use)", sent=False) from None
        try:
            return await self._request(head, body, stream, idempotent)
        except BaseException:
            self._slots.release()
            raise

    async def _request(self, head: bytes, body: bytes | None, stream: AsyncIterator[bytes] | None,
                       idempotent: bool) -> Connection:
        connection = self._take()
        if connection is not None:
            self._busy.add(connection)
            try:
                await connection.exchange(head, body, stream)
                return connection
            except BaseException as err:
                self._busy.discard(connection)
                connection.abort()
                # the node closed an idle connection as it was reused: a GET goes again on a new one
                again = isinstance(err, UpstreamFailure) and not connection.received and idempotent
                if not again or stream is not None:
                    raise
        connection = await self.connect()
        self._busy.add(connection)
        try:
            await connection.exchange(head, body, stream)
        except BaseException:
            self._busy.discard(connection)
            connection.abort()
            raise
        return connection

    def release(self, connection: Connection) -> None:
        """Once per answer ``request`` gave: the connection is kept for the next request or closed."""
        if connection not in self._busy:
            return
        self._busy.discard(connection)
        self._slots.release()
        if connection.reusable:
            connection.idle_since = time.monotonic()
            self._idle.append(connection)
        else:
            connection.abort()

    def close(self) -> None:
        for connection in [*self._idle, *self._busy]:
            connection.abort()
        self._idle.clear()
        self._busy.clear()


def request_head(method: str, target: str, host: bytes, headers: dict[str, str], length: int | None) -> bytes:
    """The request line and headers. Values came through the server's own parser or from the
    configuration; a CR or LF would split the request, so it is refused outright."""
    lines = [f"{method} {target} HTTP/1.1".encode("ascii"), b"Host: " + host]
    for name, value in headers.items():
        if "\r" in value or "\n" in value or "\0" in value:
            raise ValueError(f"header {name} carries a line break")
        lines.append(f"{name}: {value}".encode("latin-1"))
    if length is not None:
        lines.append(b"Content-Length: %d" % length)
    lines.append(b"\r\n")
    return b"\r\n".join(lines)
