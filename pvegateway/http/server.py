"""Serving the gateway: uvicorn with PVE's reason phrases, or hypercorn.

ASGI has no reason phrase. PVE clients read it (proxmoxer shows it, the Terraform provider looks for
"does not exist" in it), so under uvicorn the gateway uses a protocol class whose h11 connection takes
the phrase from an internal header the app adds (and strips it). Servers without this degrade to the
standard phrase: the app only emits the header when told the server understands it.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import os
import signal
import socket
import ssl
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import h11
import uvicorn
from h11._connection import DEFAULT_MAX_INCOMPLETE_EVENT_SIZE
from uvicorn.config import STARTUP_FAILURE
from uvicorn.protocols.http import httptools_impl
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .api import ABORT_EXTENSION, REASON_HEADER


class _ReasonConnection(h11.Connection):
    def send(self, event: Any) -> Any:
        if isinstance(event, h11.Response):
            reason = None
            headers = []
            for name, value in event.headers:
                if name == REASON_HEADER:
                    reason = value
                else:
                    headers.append((name, value))
            if reason is not None:
                event = h11.Response(status_code=event.status_code, headers=headers, reason=reason,
                                     http_version=event.http_version)
        return super().send(event)


_REASON_LINE: contextvars.ContextVar[bytes | None] = contextvars.ContextVar("pvegateway_reason", default=None)


class _StatusLines(dict[int, bytes]):
    """httptools_impl's status-line table, answering the current response's own line when it has one.

    The line is read inside uvicorn's ``send``, possibly after an await, so the choice travels in a
    context variable of the response's task: concurrent responses cannot see each other's.
    """

    def __getitem__(self, status: int) -> bytes:
        line = _REASON_LINE.get()
        return line if line is not None else super().__getitem__(status)


def _with_reason(send: Any) -> Any:
    async def reason_send(message: Any) -> None:
        if message.get("type") != "http.response.start":
            await send(message)
            return
        headers = list(message.get("headers", []))
        reason = next((value for name, value in headers if name == REASON_HEADER), None)
        if reason is None:
            await send(message)
            return
        headers = [(name, value) for name, value in headers if name != REASON_HEADER]
        token = _REASON_LINE.set(b"HTTP/1.1 %d %s\r\n" % (message["status"], reason))
        try:
            await send({**message, "headers": headers})
        finally:
            _REASON_LINE.reset(token)

    return reason_send


class _HeadWithBody:
    """A response's transport that holds the status line and headers until the first body write, so
    both leave in one write: under TLS, one record and one system call per answer instead of two."""

    __slots__ = ("_held", "_transport", "holding")

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._held: list[bytes] = []
        self.holding = False

    def write(self, data: bytes) -> None:
        if self.holding:
            self._held.append(data)
            return
        if self._held:
            data = b"".join((*self._held, data))
            self._held.clear()
        self._transport.write(data)

    def close(self) -> None:
        if self._held:
            self._transport.write(b"".join(self._held))
            self._held.clear()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def _coalescing(cycle: Any, send: Any) -> Any:
    head = _HeadWithBody(cycle.transport)
    cycle.transport = head

    async def coalescing_send(message: Any) -> None:
        if message.get("type") == "http.response.start":
            head.holding = True
            try:
                await send(message)
            finally:
                head.holding = False
            return
        await send(message)

    return coalescing_send


def _aborting(cycle: Any, send: Any) -> Any:
    """``send`` taking ``ABORT_EXTENSION``: the connection closes on an answer cut short on purpose (a
    node's answer failing mid-body), and uvicorn takes the app's return as that end instead of logging
    "ASGI callable returned without completing response" beside the gateway's own warning."""

    async def aborting_send(message: Any) -> None:
        if message.get("type") != ABORT_EXTENSION:
            await send(message)
        elif not cycle.response_complete:
            cycle.disconnected = True  # what uvicorn checks; the close below ends the connection itself
            cycle.transport.close()  # what was written goes out first: the client sees a short body

    return aborting_send


MAX_HEADER_LINES = 62
"""pveproxy reads at most 63 lines after the request line, the blank one included (AnyEvent.pm)."""
MAX_HEADER_BYTES = 8 * 1024
"""pveproxy's limit on the header lines' total length (``$limit_max_header_size``)."""
MAX_HEAD_BYTES = 72 * 1024
"""Request line and headers together, as received: a 64 KiB request line (pveproxy's read buffer) plus
the headers. Counted on the raw bytes, so a header line that never ends is refused too."""
_HEAD_TOO_LARGE = b"request header too large (over 62 lines or 8 KiB)"
HEAD_TIMEOUT = 5.0
"""pveproxy's inactivity timeout: a connection whose request head is not complete by then is closed."""


class _HeadTooLarge(Exception):
    pass


class PVEHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol (about 1.5x faster than h11 here), writing the gateway's reason,
    and each answer's head together with its first body bytes.

    It also holds requests to pveproxy's header limits. pveproxy drops a request over them without a
    word and the client waits for its 5 s timeout; httptools has no limit at all, so a client could
    make the server buffer headers without end. Here such a request gets ``431`` at once and the
    connection closes, before the app sees it. A head that does not arrive within ``head_timeout``
    (a silent or trickling client) closes the connection, as pveproxy's timeout does; uvicorn itself
    would wait for it forever. That time runs from the connection's accept, so under TLS it covers the
    handshake too (the server's handshake timeout is ``head_timeout`` as well, see GracefulServer).
    """

    head_timeout = HEAD_TIMEOUT
    _head_timer: asyncio.TimerHandle | None = None

    _head_open = True  # from a request's first byte to the end of its headers
    _head_raw = 0  # bytes received while the head is open
    _head_lines = 0
    _head_size = 0  # the header lines' length, as pveproxy counts it
    _too_large = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # made when the connection is accepted, before any TLS handshake: the head's time starts here
        # and the handshake counts against it, as under pveproxy (one 5 s timeout on the handle that
        # also runs the TLS accept: pve-http-server AnyEvent.pm 1977, 2002, 2109)
        self._accepted = self.loop.time()

    def data_received(self, data: bytes) -> None:
        if self._too_large:
            return  # answered already; the connection is closing
        if self._head_open:
            self._head_raw += len(data)
        super().data_received(data)
        if self._head_open and self._head_raw > MAX_HEAD_BYTES and not self.transport.is_closing():
            self._refuse_head()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer(self.head_timeout - (self.loop.time() - self._accepted))

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def _arm_head_timer(self, delay: float | None = None) -> None:
        self._cancel_head_timer()
        self._head_timer = self.loop.call_later(
            self.head_timeout if delay is None else max(delay, 0.0), self._head_expired)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_expired(self) -> None:
        self._head_timer = None
        if self._head_open and not self.transport.is_closing():
            self.transport.close()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_open = True  # the raw count goes on: this chunk's bytes are this head's
        self._head_lines = self._head_size = 0
        self._arm_head_timer()

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_lines += 1
        self._head_size += len(name) + 2 + len(value)
        if self._head_lines > MAX_HEADER_LINES or self._head_size >= MAX_HEADER_BYTES:
            self._too_large = True
            raise _HeadTooLarge  # stops the parser; uvicorn answers through send_400_response
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._head_open = False
        self._head_raw = 0
        self._cancel_head_timer()
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        if self._too_large:
            self._refuse_head()
            return
        super().send_400_response(msg)

    def _refuse_head(self) -> None:
        self._too_large = True
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain; charset=utf-8\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(_HEAD_TOO_LARGE), _HEAD_TOO_LARGE))
        self.transport.close()

    def _start_asgi_task(self, cycle: Any, app: Any) -> None:
        cycle.scope.setdefault("extensions", {})[ABORT_EXTENSION] = {}
        cycle.send = _aborting(cycle, _with_reason(_coalescing(cycle, cycle.send)))
        super()._start_asgi_task(cycle, app)


class PVEH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, writing the reason phrase the gateway chose."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        limit = self.config.h11_max_incomplete_event_size
        self.conn = _ReasonConnection(
            h11.SERVER, limit if limit is not None else DEFAULT_MAX_INCOMPLETE_EVENT_SIZE
        )


def ssl_paths_ok(cert: str | None, key: str | None) -> None:
    if bool(cert) != bool(key):
        raise SystemExit("--tls-cert and --tls-key go together")
    if cert and key:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        try:
            ctx.load_cert_chain(cert, key)
        except (OSError, ssl.SSLError) as err:
            raise SystemExit(f"cannot load TLS certificate/key: {err}") from None


httptools_impl.STATUS_LINE = _StatusLines(httptools_impl.STATUS_LINE)


def uvicorn_config(
    app: Any, host: str = "127.0.0.1", port: int = 8006, cert: str | None = None, key: str | None = None,
    log_level: str = "warning", protocol: type[asyncio.Protocol] = PVEHttpToolsProtocol, **extra: Any,
) -> uvicorn.Config:
    """uvicorn as the gateway runs it: PVE reason phrases, no uvicorn Server header, and not uvicorn's
    access log, which prints concrete paths with their query strings (passwords travel there); the
    gateway's own (pvegateway.observe) logs path templates only."""
    options: dict[str, Any] = {"access_log": False, **extra}
    return uvicorn.Config(
        app, host=host, port=port, http=protocol, ssl_certfile=cert, ssl_keyfile=key,
        log_level=log_level, lifespan="on", server_header=False, date_header=True,
        proxy_headers=False,  # X-Forwarded-* from clients are not trusted (nor needed)
        **options,
    )


def bind(host: str, port: int) -> socket.socket:
    """Bind before announcing: once ``serve`` prints where it listens, connections are accepted.

    The protocol must be IPPROTO_TCP, not 0: asyncio only turns Nagle off (TCP_NODELAY) for sockets
    that say so, and with Nagle on every keep-alive response waits ~40 ms for a delayed ACK.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        raise SystemExit(f"cannot listen on {host}:{port}: {err.strerror}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


SHUTDOWN_TIMEOUT = 30.0
"""How long a stopping server lets requests in flight finish (pveproxy's own proxy read timeout)."""


def _idle(connection: Any) -> bool:
    """No request in flight and nothing left to write: closing it loses nothing."""
    cycle = getattr(connection, "cycle", None)
    transport = getattr(connection, "transport", None)
    pending = transport.get_write_buffer_size() if transport is not None and not transport.is_closing() else 0
    return (cycle is None or cycle.response_complete) and not pending


class GracefulServer(uvicorn.Server):
    """uvicorn's server with a drain that cannot be held up by idle clients, and a clean exit status.

    uvicorn's own shutdown closes idle connections politely: under TLS that sends close_notify and waits
    for the client's, which an idle keep-alive client never sends, so a SIGTERM took the SSL shutdown
    timeout (30 s) per stop. Here idle connections are dropped at once, requests in flight finish
    (bounded by ``shutdown_timeout``) and leave on a ``Connection: close`` answer, and whatever is left
    is aborted. uvicorn also re-raises the signal once stopped, so ``serve`` died of SIGTERM (status
    -15) instead of exiting 0 after a requested, clean stop.
    """

    def __init__(self, config: uvicorn.Config, shutdown_timeout: float = SHUTDOWN_TIMEOUT,
                 orphan_of: int | None = None) -> None:
        super().__init__(config)
        self.shutdown_timeout = shutdown_timeout
        self.orphan_of = orphan_of  # a worker stops by itself if its supervisor dies

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """uvicorn's startup on pre-bound sockets, with a TLS handshake timeout of the head timeout
        instead of asyncio's 60 s: uvicorn has no setting for it, and until the handshake is done the
        protocol (and its head timer) does not see the connection, so a silent client held a
        descriptor for a minute (about 1,000 of them exhausted a 1,024-descriptor limit)."""
        config = self.config
        if sockets is None or config.ssl is None:
            await super().startup(sockets)
            return
        await self.lifespan.startup()
        if self.lifespan.should_exit:
            sys.exit(STARTUP_FAILURE)

        def create_protocol(_loop: asyncio.AbstractEventLoop | None = None) -> asyncio.Protocol:
            protocol: asyncio.Protocol = config.http_protocol_class(  # type: ignore[call-arg]
                config=config, server_state=self.server_state, app_state=self.lifespan.state, _loop=_loop)
            return protocol

        loop = asyncio.get_running_loop()
        timeout = getattr(config.http_protocol_class, "head_timeout", HEAD_TIMEOUT)
        self.servers = [
            await loop.create_server(create_protocol, sock=sock, ssl=config.ssl, backlog=config.backlog,
                                     ssl_handshake_timeout=timeout)
            for sock in sockets
        ]
        self.started = True

    @contextlib.contextmanager
    def capture_signals(self) -> Any:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        original = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)

    async def on_tick(self, counter: int) -> bool:
        if self.orphan_of is not None and os.getppid() != self.orphan_of:
            self.should_exit = True
        result: bool = await super().on_tick(counter)
        return result

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()  # stop accepting: new connections are refused once every copy is closed
        for sock in sockets or []:
            sock.close()
        state = self.server_state
        logging.getLogger("uvicorn.error").info(
            "stopping: no longer accepting; %d request(s) in flight", len(state.tasks))
        for connection in list(state.connections):
            if _idle(connection):
                connection.transport.abort()
            else:
                connection.shutdown()  # finishes its answer with Connection: close
        deadline = time.monotonic() + self.shutdown_timeout
        while state.tasks and not self.force_exit and (left := deadline - time.monotonic()) > 0:
            await asyncio.wait(set(state.tasks), timeout=min(left, 0.5))
        if state.tasks:
            logging.getLogger("uvicorn.error").warning(
                "shutdown timeout: cancelling %d request(s) in flight", len(state.tasks))
            for task in list(state.tasks):
                task.cancel()
        # answers already written may still sit in a buffer for a slow reader: let them go out, then
        # drop what remains (a TLS close would wait for a close_notify the peer may never send)
        while not self.force_exit and time.monotonic() < deadline and any(
                not _idle(connection) for connection in state.connections):
            await asyncio.sleep(0.01)
        for connection in list(state.connections):
            connection.transport.abort()
        await asyncio.sleep(0)
        if not self.force_exit:
            await self.lifespan.shutdown()


def run_uvicorn(app: Any, sock: socket.socket, cert: str | None, key: str | None, log_level: str,
                shutdown_timeout: float = SHUTDOWN_TIMEOUT, orphan_of: int | None = None) -> None:
    host, port = sock.getsockname()[:2]
    server = GracefulServer(uvicorn_config(app, host, port, cert, key, log_level), shutdown_timeout, orphan_of)
    server.run(sockets=[sock])  # uvicorn's runner picks uvloop (loop="auto"); asyncio.run() would not
    if not server.started:
        raise SystemExit(3)  # uvicorn's startup-failure status


def run_hypercorn(app: Any, sock: socket.socket, cert: str | None, key: str | None, log_level: str,
                  shutdown_timeout: float = SHUTDOWN_TIMEOUT, orphan_of: int | None = None) -> None:
    """hypercorn on the pre-bound socket; under TLS it offers h2 and http/1.1 by ALPN (HTTP/2)."""
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    config = Config()
    # hypercorn owns the descriptor from here (and closes it on shutdown, so new connections are refused)
    config.bind = [f"fd://{sock.detach()}"]
    config.certfile = cert
    config.keyfile = key
    config.loglevel = log_level.upper()
    config.include_server_header = False
    config.graceful_timeout = shutdown_timeout
    # a silent TLS client is dropped after HEAD_TIMEOUT, not hypercorn's 60 s; once its handshake is
    # done, hypercorn's own idle timeout (5 s) runs: up to twice HEAD_TIMEOUT in all (uvicorn: once)
    config.ssl_handshake_timeout = HEAD_TIMEOUT
    asyncio.run(serve(app, config, shutdown_trigger=lambda: _stop_requested(orphan_of)))


async def _stop_requested(orphan_of: int | None) -> None:
    """hypercorn's stop: SIGINT/SIGTERM, or (a worker) its supervisor gone."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    while not stop.is_set() and (orphan_of is None or os.getppid() == orphan_of):
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)


@dataclass
class ThreadedServer:
    """An ASGI app under uvicorn on a pre-bound socket in a thread: clients can connect at once, and
    ``close()`` stops it without uvicorn's fixed shutdown sleeps, closing every connection."""

    gateway: Any
    certfile: str | None = None
    keyfile: str | None = None
    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)
    errors: list[BaseException] = field(default_factory=list)
    protocol: type[asyncio.Protocol] | None = None

    def __post_init__(self) -> None:
        self.sock = bind("127.0.0.1", 0)
        self.port: int = self.sock.getsockname()[1]
        self.config = uvicorn_config(self.gateway, cert=self.certfile, key=self.keyfile, log_level="error",
                                     access_log=False, log_config=None,
                                     protocol=self.protocol or PVEHttpToolsProtocol)
        self.stop: asyncio.Future[None] = self.loop.create_future()
        self.thread = threading.Thread(target=self._thread, name=f"pve-mock-{self.port}", daemon=True)

    def _thread(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._serve())
        except BaseException as err:  # reported by close()
            self.errors.append(err)
        finally:
            self.loop.close()

    async def _serve(self) -> None:
        server = GracefulServer(self.config, shutdown_timeout=5.0)
        if not self.config.loaded:
            self.config.load()
        server.lifespan = self.config.lifespan_class(self.config)
        await server.startup(sockets=[self.sock])
        # uvicorn's own tick keeps the Date header current (PVE always sends one); it ends on should_exit
        ticker = asyncio.create_task(server.main_loop())
        try:
            await self.stop
        finally:
            ticker.cancel()  # not awaited out: its 0.1 s sleep would slow every test's teardown
            await server.shutdown()  # the serve drain: idle connections dropped, requests in flight finish

    def start(self) -> None:
        self.thread.start()

    def close(self) -> None:
        def stop() -> None:
            if not self.stop.done():
                self.stop.set_result(None)

        with contextlib.suppress(RuntimeError):  # the loop already ended
            self.loop.call_soon_threadsafe(stop)
        self.thread.join(timeout=10)
        self.sock.close()
        if self.errors:
            raise RuntimeError("the server failed") from self.errors[0]
