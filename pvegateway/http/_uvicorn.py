"""Every coupling of the gateway to uvicorn's internals (and h11's), in one place.

uvicorn has no public API for what the gateway needs here, so this module overrides, calls and reads
private methods and attributes. pyproject.toml pins uvicorn to the minor version the suite runs
against, and tests/http/test_uvicorn_hooks.py walks :data:`HOOKS` (the same list, with the parameters
each method must have) and fails, naming the hook and the uvicorn version, when one is gone or its
parameters changed. Each hook, and why:

Reason phrases (ASGI has none; PVE clients read it: proxmoxer shows it, the Terraform provider looks for
"does not exist" in it). The app adds an internal header when told the server understands it
(``send_reason``); servers without these hooks degrade to the standard phrase.
  - ``uvicorn.protocols.http.httptools_impl.STATUS_LINE``: the status-line table
    ``RequestResponseCycle.send`` reads; replaced by one that answers the current response's own line.
  - ``H11Protocol.conn``: replaced, once ``H11Protocol.__init__`` has run, by an h11 connection that
    writes the phrase, sized as uvicorn sizes it: ``H11Protocol.config``'s
    ``Config.h11_max_incomplete_event_size`` or ``h11._connection.DEFAULT_MAX_INCOMPLETE_EVENT_SIZE``.

One write per answer's head and first body bytes (under TLS, one record and one system call instead of
two), the abort extension (an answer cut short on purpose closes the connection, and uvicorn does not
log it as an app error), and a body received whole handed over though its client left:
  - ``HttpToolsProtocol._start_asgi_task``: where each request's cycle is about to run; its ``send``
    and ``receive`` are wrapped there, and the app with them.
  - ``RequestResponseCycle.transport``, ``RequestResponseCycle.send``, ``RequestResponseCycle.receive``:
    replaced per request.
  - A whole answer (a start, then one body message that ends it, with its ``content-length``) is
    written by the coupling as uvicorn's ``send`` writes it, in one pass (uvicorn's two passes and
    per-header work were a tenth of a cheap request's cost). It reads and sets what that ``send``
    does: ``RequestResponseCycle.flow`` (``FlowControl.write_paused``), ``RequestResponseCycle.access_log``
    and ``RequestResponseCycle.access_logger`` (uvicorn's own access log, when on, takes uvicorn's path),
    ``RequestResponseCycle.default_headers``, ``RequestResponseCycle.scope``,
    ``RequestResponseCycle.keep_alive``, ``RequestResponseCycle.response_started``,
    ``RequestResponseCycle.waiting_for_100_continue``, ``RequestResponseCycle.message_event`` and
    ``RequestResponseCycle.on_response``; the status lines and the header checks are uvicorn's own
    (``uvicorn.protocols.http.httptools_impl.HEADER_RE``, ``uvicorn.protocols.http.httptools_impl.HEADER_VALUE_RE``).
  - ``RequestResponseCycle.response_complete``, ``RequestResponseCycle.disconnected``: read, and
    ``disconnected`` set on an abort (what uvicorn's own ``send`` and ``run_asgi`` check).
  - ``RequestResponseCycle.more_body``, ``RequestResponseCycle.body``: the parser saw the body end
    (``more_body`` false once all of Content-Length is in), and what of it the app has not read yet.

pveproxy's head limits and timeout (httptools itself has none: a client could make the server buffer
headers without end, or hold a connection without ever sending a head):
  - ``HttpToolsProtocol.__init__``: the head's time starts when the connection is accepted.
  - ``HttpToolsProtocol.data_received``, ``HttpToolsProtocol.on_message_begin``,
    ``HttpToolsProtocol.on_header``, ``HttpToolsProtocol.on_headers_complete``: the head counted and
    timed around uvicorn's own parsing.
  - ``HttpToolsProtocol.send_400_response``: where a parser stopped by an oversized head ends up; it
    answers 431 instead.
  - ``HttpToolsProtocol.connection_made``, ``HttpToolsProtocol.connection_lost``,
    ``HttpToolsProtocol.loop``, ``HttpToolsProtocol.transport``: the head timer's start, end and clock,
    and the connection it closes.

uvicorn's keep-alive timeout with one timer per connection instead of one per answer (the timer finds
the connection busy and stops, or idle for less than the timeout and waits the rest):
  - ``HttpToolsProtocol.on_response_complete``: replaced for an answer with nothing pipelined behind it
    (it counts ``HttpToolsProtocol.server_state``'s requests and resumes ``HttpToolsProtocol.flow`` as
    uvicorn does; with ``HttpToolsProtocol.pipeline`` non-empty, uvicorn's own runs).
  - ``HttpToolsProtocol._unset_keepalive_if_required``: replaced; marks the connection busy.
  - ``HttpToolsProtocol.timeout_keep_alive_task``, ``HttpToolsProtocol.timeout_keep_alive``,
    ``HttpToolsProtocol.timeout_keep_alive_handler``: the timer, its length and what closes the connection.

The startup and drain of :class:`GracefulServer` (a SIGTERM must not wait for idle TLS clients, a TLS
handshake must time out like a head, and a threaded server needs uvicorn's serve loop without signals):
  - ``Server.startup``: replaced by a copy with a TLS handshake timeout when serving pre-bound sockets
    under TLS (uvicorn has no setting for it). The copy reads ``Server.lifespan``, ``LifespanOn.startup``,
    ``LifespanOn.should_exit``, ``LifespanOn.state``, ``Server.server_state``, ``Config.ssl``,
    ``Config.backlog`` and ``Config.http_protocol_class`` (built with ``HttpToolsProtocol.__init__``'s
    parameters), sets ``Server.servers`` and ``Server.started``, and exits with
    ``uvicorn.config.STARTUP_FAILURE`` as uvicorn does (the status the worker supervisor recognises).
  - ``Server.shutdown``: replaced; reads ``Server.servers``, ``ServerState.connections``,
    ``ServerState.tasks``, ``Server.force_exit`` and each connection's ``HttpToolsProtocol.cycle``, and
    calls ``HttpToolsProtocol.shutdown`` and ``LifespanOn.shutdown``.
  - ``Server.capture_signals``: replaced (uvicorn's re-raises the signal once stopped, so a clean stop
    died of SIGTERM), installing ``Server.handle_exit``.
  - ``Server.on_tick``: extended, setting ``Server.should_exit`` when a worker's supervisor is gone.
  - ``Server.main_loop``, ``Config.loaded``, ``Config.load``, ``Config.lifespan_class``: what
    :meth:`GracefulServer.serve_until` runs (uvicorn's ``_serve`` without its signal handlers; the
    main loop keeps the Date header current).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import h11
import uvicorn
from h11 import _connection as h11_connection
from uvicorn import config as uvicorn_config
from uvicorn.config import STARTUP_FAILURE as STARTUP_FAILURE  # re-exported: a failed worker exits with it
from uvicorn.lifespan.on import LifespanOn
from uvicorn.protocols.http import httptools_impl
from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle
from uvicorn.server import ServerState

from .api import ABORT_EXTENSION, REASON_HEADER


@dataclass(frozen=True)
class Hook:
    """One private name the coupling overrides, calls or reads: ``owner.name``. ``params``: a method's
    parameters after ``self``, as the coupling overrides or calls it; None for data."""

    owner: type | ModuleType
    name: str
    params: tuple[str, ...] | None = None

    @property
    def label(self) -> str:
        """How the docstring above names it."""
        return f"{self.owner.__name__}.{self.name}"


_PROTOCOL_INIT = ("config", "server_state", "app_state", "_loop")

HOOKS: tuple[Hook, ...] = (
    # reason phrases
    Hook(httptools_impl, "STATUS_LINE"),
    Hook(H11Protocol, "__init__", _PROTOCOL_INIT),
    Hook(H11Protocol, "conn"),
    Hook(H11Protocol, "config"),
    Hook(uvicorn.Config, "h11_max_incomplete_event_size"),
    Hook(h11_connection, "DEFAULT_MAX_INCOMPLETE_EVENT_SIZE"),
    # each request's send and receive
    Hook(HttpToolsProtocol, "_start_asgi_task", ("cycle", "app")),
    Hook(RequestResponseCycle, "transport"),
    Hook(RequestResponseCycle, "send", ("message",)),
    Hook(RequestResponseCycle, "receive", ()),
    Hook(RequestResponseCycle, "response_complete"),
    Hook(RequestResponseCycle, "disconnected"),
    Hook(RequestResponseCycle, "more_body"),
    Hook(RequestResponseCycle, "body"),
    # whole answers written in one pass
    Hook(RequestResponseCycle, "flow"),
    Hook(FlowControl, "write_paused"),
    Hook(RequestResponseCycle, "access_log"),
    Hook(RequestResponseCycle, "access_logger"),
    Hook(RequestResponseCycle, "default_headers"),
    Hook(RequestResponseCycle, "scope"),
    Hook(RequestResponseCycle, "keep_alive"),
    Hook(RequestResponseCycle, "response_started"),
    Hook(RequestResponseCycle, "waiting_for_100_continue"),
    Hook(RequestResponseCycle, "message_event"),
    Hook(RequestResponseCycle, "on_response"),
    Hook(httptools_impl, "HEADER_RE"),
    Hook(httptools_impl, "HEADER_VALUE_RE"),
    # head limits and timeout
    Hook(HttpToolsProtocol, "__init__", _PROTOCOL_INIT),
    Hook(HttpToolsProtocol, "data_received", ("data",)),
    Hook(HttpToolsProtocol, "on_message_begin", ()),
    Hook(HttpToolsProtocol, "on_header", ("name", "value")),
    Hook(HttpToolsProtocol, "on_headers_complete", ()),
    Hook(HttpToolsProtocol, "send_400_response", ("msg",)),
    Hook(HttpToolsProtocol, "connection_made", ("transport",)),
    Hook(HttpToolsProtocol, "connection_lost", ("exc",)),
    Hook(HttpToolsProtocol, "loop"),
    Hook(HttpToolsProtocol, "transport"),
    # the keep-alive timeout, one timer per connection
    Hook(HttpToolsProtocol, "on_response_complete", ()),
    Hook(HttpToolsProtocol, "_unset_keepalive_if_required", ()),
    Hook(HttpToolsProtocol, "timeout_keep_alive_task"),
    Hook(HttpToolsProtocol, "timeout_keep_alive"),
    Hook(HttpToolsProtocol, "timeout_keep_alive_handler", ()),
    Hook(HttpToolsProtocol, "pipeline"),
    Hook(HttpToolsProtocol, "flow"),
    Hook(HttpToolsProtocol, "server_state"),
    # startup and drain
    Hook(uvicorn.Server, "startup", ("sockets",)),
    Hook(uvicorn.Server, "lifespan"),
    Hook(LifespanOn, "startup", ()),
    Hook(LifespanOn, "should_exit"),
    Hook(LifespanOn, "state"),
    Hook(uvicorn.Server, "server_state"),
    Hook(uvicorn.Config, "ssl"),
    Hook(uvicorn.Config, "backlog"),
    Hook(uvicorn.Config, "http_protocol_class"),
    Hook(uvicorn.Server, "servers"),
    Hook(uvicorn.Server, "started"),
    Hook(uvicorn_config, "STARTUP_FAILURE"),
    Hook(uvicorn.Server, "shutdown", ("sockets",)),
    Hook(ServerState, "connections"),
    Hook(ServerState, "tasks"),
    Hook(uvicorn.Server, "force_exit"),
    Hook(HttpToolsProtocol, "cycle"),
    Hook(HttpToolsProtocol, "shutdown", ()),
    Hook(LifespanOn, "shutdown", ()),
    Hook(uvicorn.Server, "capture_signals", ()),
    Hook(uvicorn.Server, "handle_exit", ("sig", "frame")),
    Hook(uvicorn.Server, "on_tick", ("counter",)),
    Hook(uvicorn.Server, "should_exit"),
    Hook(uvicorn.Server, "main_loop", ()),
    Hook(uvicorn.Config, "loaded"),
    Hook(uvicorn.Config, "load", ()),
    Hook(uvicorn.Config, "lifespan_class"),
)


# --- reason phrases -----------------------------------------------------------------------------------


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


_PLAIN_STATUS: dict[int, bytes] = dict(httptools_impl.STATUS_LINE)  # uvicorn's own, for whole answers
# the bytes uvicorn's send refuses in a header name and in a value (its regexes are character classes),
# to delete: a header is refused when that removes something (one C pass over all names, one over values)
_BAD_NAME = bytes(b for b in range(256) if httptools_impl.HEADER_RE.search(bytes((b,))))
_BAD_VALUE = bytes(b for b in range(256) if httptools_impl.HEADER_VALUE_RE.search(bytes((b,))))
httptools_impl.STATUS_LINE = _StatusLines(httptools_impl.STATUS_LINE)


# --- each request's send ------------------------------------------------------------------------------


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


class _Exchange:
    """One request's ``send`` and ``receive`` as the gateway's protocol hands them to the app: one
    object per request and one call around uvicorn's own (as four nested wrappers they were a tenth of
    a cheap request's cost).

    ``send``, in this order:
      - takes ``ABORT_EXTENSION``: the connection closes on an answer cut short on purpose (a node's
        answer failing mid-body), and uvicorn takes the app's return as that end instead of logging
        "ASGI callable returned without completing response" beside the gateway's own warning;
      - holds the status line and headers until the first body message, so both leave in one write:
        under TLS, one record and one system call per answer instead of two;
      - writes an answer that comes whole (its start, then one body message that ends it, with a
        ``content-length`` that matches: every answer the API path gives itself) directly, as
        uvicorn's ``send`` would write it (see ``_whole``), without its two passes and per-header
        work; anything else goes through uvicorn's ``send`` with the head held (``_HeadWithBody``);
      - writes the reason phrase of a ``REASON_HEADER`` (the header itself is not sent).

    ``run`` wraps the app: a start held when the app returns or fails is handed to uvicorn then, so
    uvicorn sees the answer begun, as it would have without the hold.

    ``receive`` hands over a body received whole before it says the client is gone. uvicorn answers
    ``http.disconnect`` once the connection is lost, even when the whole body is in its buffer and the
    app has not read it yet: a client that sent a complete request and half-closed at once (HTTP/1.0
    clients, ``nc -N``) or closed, to an app that reads late (behind middleware, on a busy loop), lost
    a request pveproxy runs (AnyEvent::Handle serves what it has buffered before it reports the end of
    input). Only a body the parser saw end is handed over (``more_body`` false: all of Content-Length
    in); one cut short stays a disconnect, so it never runs.
    """

    __slots__ = ("_app", "_cycle", "_held", "_receive", "_send", "_whole")

    def __init__(self, cycle: Any, app: Any) -> None:
        self._cycle = cycle
        self._app = app
        self._send = cycle.send
        self._receive = cycle.receive
        self._held: Any = None  # the response's start message, until its first body message
        self._whole = False  # the app has had the body's last part

    async def run(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await self._app(scope, receive, send)
        finally:
            if self._held is not None:
                await self._start(self._held)

    async def send(self, message: Any) -> None:
        kind = message["type"]
        held = self._held
        if kind == "http.response.body" and held is not None:
            self._held = None
            if not message.get("more_body", False) and self._whole_answer(held, message.get("body", b"")):
                return
            await self._start(held)
            await self._send(message)
        elif kind == "http.response.start" and held is None and not self._cycle.response_started:
            self._held = message
        elif kind != ABORT_EXTENSION:
            if held is not None:
                self._held = None
                await self._start(held)
            await self._send(message)
        elif not self._cycle.response_complete:
            if held is not None:
                self._held = None
                await self._start(held)
            cycle = self._cycle
            cycle.disconnected = True  # what uvicorn checks; the close below ends the connection itself
            cycle.transport.close()  # what was written goes out first: the client sees a short body

    async def _start(self, message: Any) -> None:
        """The start through uvicorn's ``send``, its bytes held until the body's first write."""
        cycle = self._cycle
        token = None
        headers = message.get("headers", ())
        if type(headers) is not list:  # any iterable ASGI allows, read once here
            headers = list(headers)
            message = {**message, "headers": headers}
        for name, value in headers:
            if name == REASON_HEADER:
                token = _REASON_LINE.set(b"HTTP/1.1 %d %s\r\n" % (message["status"], value))
                message = {**message, "headers": [(n, v) for n, v in headers if n != REASON_HEADER]}
                break
        head = cycle.transport
        if type(head) is not _HeadWithBody:
            head = cycle.transport = _HeadWithBody(head)
        head.holding = True
        try:
            await self._send(message)
        finally:
            head.holding = False
            if token is not None:
                _REASON_LINE.reset(token)

    def _whole_answer(self, start: Any, body: bytes) -> bool:
        """Write ``start`` and ``body`` as one answer, as uvicorn's ``send`` writes them and with its
        checks; False (nothing written, nothing changed) where its own path must run instead: flow
        control, uvicorn's access log, no or another ``content-length``, chunked framing, unknown status."""
        cycle = self._cycle
        if cycle.response_started or cycle.disconnected or cycle.flow.write_paused or (
                cycle.access_log and cycle.access_logger.isEnabledFor(logging.INFO)):
            return False  # uvicorn's access log would have a line for it: its path writes that
        status = start["status"]
        line = _PLAIN_STATUS.get(status) if type(status) is int else None
        headers = start.get("headers", ())
        if line is None or type(headers) is not list:
            return False
        every = (*cycle.default_headers, *headers)
        names = b"".join([name for name, _ in every])
        values = b"".join([value for _, value in every])
        if len(names.translate(None, _BAD_NAME)) != len(names) or \
                len(values.translate(None, _BAD_VALUE)) != len(values):
            return False  # uvicorn's send refuses it, with its own error
        keep_alive = cycle.keep_alive
        says_close = False
        length = -1
        parts = [line]
        for name, value in every:
            name = name.lower()
            if name == REASON_HEADER:
                parts[0] = b"HTTP/1.1 %d %s\r\n" % (status, value)
                continue
            if name == b"content-length":
                if length >= 0 or not value.isdigit():
                    return False
                length = int(value)
            elif name == b"transfer-encoding":
                return False
            elif name == b"connection" and b"close" in [token.strip() for token in value.lower().split(b",")]:
                keep_alive = False
                says_close = True
            parts += (name, b": ", value, b"\r\n")
        head_only = cycle.scope["method"] == "HEAD"
        if length < 0 or (len(body) != length and not head_only):
            return False
        if not keep_alive and not says_close:
            parts.append(b"connection: close\r\n")
        parts.append(b"\r\n")
        if not head_only:
            parts.append(body)
        cycle.response_started = True
        cycle.waiting_for_100_continue = False
        cycle.keep_alive = keep_alive
        cycle.transport.write(b"".join(parts))
        cycle.response_complete = True
        cycle.message_event.set()
        if not keep_alive:
            cycle.transport.close()
        cycle.on_response()
        return True

    async def receive(self) -> Any:
        message = await self._receive()
        if message["type"] == "http.request":
            self._whole = self._whole or not message.get("more_body", False)
            return message
        cycle = self._cycle
        if not self._whole and not cycle.more_body and not cycle.response_complete:
            self._whole = True
            body, cycle.body = bytes(cycle.body), bytearray()
            return {"type": "http.request", "body": body, "more_body": False}
        return message


# --- the protocol: head limits and timeout ------------------------------------------------------------


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
    """uvicorn's httptools protocol (faster than h11: a C parser), writing the gateway's reason,
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
        self._head_began = self.loop.time()

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
        self._watch_head()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        if self.timeout_keep_alive_task is not None:
            self.timeout_keep_alive_task.cancel()
            self.timeout_keep_alive_task = None
        super().connection_lost(exc)

    # uvicorn's keep-alive timeout, with one timer per connection as for the head: uvicorn armed one
    # after every answer and cancelled it on the next request's first bytes
    _idle_since: float | None = None  # when the last answer was complete; None: a request came since

    def _unset_keepalive_if_required(self) -> None:
        self._idle_since = None  # the timer, when it comes, finds the connection busy and stops

    def on_response_complete(self) -> None:
        if self.pipeline or self.transport.is_closing():
            super().on_response_complete()  # the next request starts, or nothing is left to time
            return
        self.server_state.total_requests += 1
        self.flow.resume_reading()
        self._idle_since = self.loop.time()
        if self.timeout_keep_alive_task is None:
            self.timeout_keep_alive_task = self.loop.call_later(self.timeout_keep_alive, self._keep_alive_due)

    def _keep_alive_due(self) -> None:
        self.timeout_keep_alive_task = None
        if self._idle_since is None:
            return  # a request is under way; its answer starts the timer again
        left = self._idle_since + self.timeout_keep_alive - self.loop.time()
        if left > 0:
            self.timeout_keep_alive_task = self.loop.call_later(left, self._keep_alive_due)
        else:
            self.timeout_keep_alive_handler()

    def _watch_head(self) -> None:
        """Look again when the open head's time is up. One timer per connection at a time, not one per
        request (arming and cancelling a timer on every request cost about 2% of a cheap one's time):
        it finds the head done and stops, and the next head starts it again."""
        if self._head_timer is None:
            delay = self._head_began + self.head_timeout - self.loop.time()
            self._head_timer = self.loop.call_later(max(delay, 0.0), self._head_due)

    def _head_due(self) -> None:
        self._head_timer = None
        if not self._head_open or self.transport.is_closing():
            return
        if self.loop.time() - self._head_began >= self.head_timeout:
            self.transport.close()
        else:
            self._watch_head()  # a later head than the one this timer was set for

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_open = True  # the raw count goes on: this chunk's bytes are this head's
        self._head_lines = self._head_size = 0
        self._head_began = self.loop.time()
        self._watch_head()

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
        exchange = _Exchange(cycle, app)
        cycle.send = exchange.send
        cycle.receive = exchange.receive
        super()._start_asgi_task(cycle, exchange.run)


class PVEH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, writing the reason phrase the gateway chose."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        limit = self.config.h11_max_incomplete_event_size
        self.conn = _ReasonConnection(
            h11.SERVER, limit if limit is not None else h11_connection.DEFAULT_MAX_INCOMPLETE_EVENT_SIZE
        )


# --- the server: startup and drain --------------------------------------------------------------------


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

    async def serve_until(self, sockets: list[socket.socket], stop: Awaitable[None]) -> None:
        """Serve the pre-bound ``sockets`` until ``stop`` is done, then drain as ``serve`` does: uvicorn's
        own ``serve`` without its signal handlers (a server in a thread cannot have them) and without the
        fixed sleeps of its shutdown. The sockets stay open: the caller closes them."""
        config = self.config
        if not config.loaded:
            config.load()
        self.lifespan = config.lifespan_class(config)
        await self.startup(sockets=sockets)
        # uvicorn's own tick keeps the Date header current (PVE always sends one); it ends on should_exit
        ticker = asyncio.create_task(self.main_loop())
        try:
            await stop
        finally:
            ticker.cancel()  # not awaited out: its 0.1 s sleep would slow every stop
            await self.shutdown()  # idle connections dropped, requests in flight finish

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
        # an abort completes on the loop's next turns (under TLS, a turn per layer): let every
        # connection see its end before the loop may stop, or its socket is left to the garbage
        # collector (a ResourceWarning in whatever runs next)
        for _turn in range(100):
            if not state.connections:
                break
            await asyncio.sleep(0.001)
        await asyncio.sleep(0)
        if not self.force_exit:
            await self.lifespan.shutdown()
