"""The ``/api2`` request path: decode, match, gather, validate, call the backend, format.

Plain ASGI on purpose: this is the hot path, and everything it needs was built at startup.
Order of checks follows pve-http-server and pve-manager (docs/WIRE.md section 4).
"""

from __future__ import annotations

import asyncio
import collections
import functools
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, MutableMapping
from email.utils import formatdate
from time import perf_counter
from typing import Any, NamedTuple, Protocol, runtime_checkable

from ..apidoc.operation import Operation
from ..backends.base import Backend, Call, Identity, Incoming, Result, Streamed, Upgrade
from ..errors import ClientGone, PVEError
from . import envelope, websocket
from .dispatch import Match, Router
from .multipart import read_fields
from .params import gather, media_type, merge_path
from .routes import OperationRoute, relative_path

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

log = logging.getLogger(__name__)
_API_PATH = re.compile(r"^/api2/+([a-z][a-z0-9]+)(/.*)?$", re.DOTALL)
MAX_BODY = 512 * 1024
DRAIN_LIMIT = 64 * 1024 * 1024
DRAIN_IDLE = 5.0  # pveproxy's inactivity timeout: a client that stops sending is not waited on longer
_UNSAFE_REASON = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
REASON_HEADER = b"x-pvegateway-reason"
_METHODS = frozenset(("GET", "POST", "PUT", "DELETE"))
_MULTIPART = "multipart/form-data"
_BODY_TYPES = frozenset(("application/x-www-form-urlencoded", "application/json", _MULTIPART))
# hop-by-hop headers (RFC 9110 7.6.1), and Date, which the server adds itself: never copied from a
# passed answer
_HOP = frozenset((b"connection", b"keep-alive", b"transfer-encoding", b"te", b"trailer", b"upgrade",
                  b"proxy-authenticate", b"proxy-authorization", b"proxy-connection", b"date"))
ABORT_EXTENSION = "pvegateway.http.abort"
"""A server offering this scope extension takes a ``{"type": ABORT_EXTENSION}`` message: end the
connection now, the answer being incomplete on purpose (the gateway's uvicorn protocol offers it)."""
_date_cache: tuple[int, bytes] = (-1, b"")
_TYPES = {envelope.JSON_TYPE: envelope.JSON_TYPE.encode()}  # the content type nearly every answer has


def _http_date() -> bytes:
    """``formatdate(usegmt=True)`` of now, encoded; it has one-second resolution, so it is made once a second."""
    global _date_cache
    second = int(time.time())
    cached = _date_cache
    if cached[0] != second:
        cached = (second, formatdate(second, usegmt=True).encode())
        _date_cache = cached
    return cached[1]


class _Body:
    """``receive``, remembering whether the request's body has been read to its end."""

    __slots__ = ("done", "receive")

    def __init__(self, receive: Receive) -> None:
        self.receive = receive
        self.done = False

    async def __call__(self) -> Message:
        message = await self.receive()
        if message["type"] == "http.disconnect" or not message.get("more_body", False):
            self.done = True
        return message

    def pending(self, scope: Scope) -> bool:
        """Body bytes the client is still sending (a refused request): a connection closed on them
        is reset, and the reset can destroy the answer before the client reads it."""
        if self.done:
            return False
        for name, value in scope.get("headers", ()):
            if name == b"transfer-encoding":
                return True
            if name == b"content-length":
                text = value.strip()
                return text.isdigit() and 0 < int(text) <= DRAIN_LIMIT
        return False

    async def drain(self) -> None:
        """Read and drop the rest of the body: at most DRAIN_LIMIT bytes, waiting at most DRAIN_IDLE
        for each piece: a client that declared more than it sends holds the connection no longer."""
        drained = 0
        while not self.done and drained <= DRAIN_LIMIT:
            try:
                message = await asyncio.wait_for(self(), DRAIN_IDLE)
            except TimeoutError:
                return
            drained += len(message.get("body", b""))


async def _when_gone(receive: Receive, stop: Callable[[], Awaitable[None]]) -> None:
    """Run ``stop`` once the client disconnects (the request's body has been read already)."""
    while (await receive())["type"] != "http.disconnect":
        pass
    await stop()


def reason_bytes(reason: str) -> bytes | None:
    """The reason phrase as the status line's bytes, or None (the standard phrase) when it holds a
    control character: nothing a request put into a message can end the status line early."""
    if _UNSAFE_REASON.search(reason):
        return None
    return reason.encode("utf-8", "replace")


async def _drain(rest: AsyncIterator[bytes], limit: int = DRAIN_LIMIT) -> None:
    """Read what is left of an upload refused before its end (PVE reads every upload whole): a
    connection closed on unread bytes is reset, and the client may never see the answer."""
    drained = 0
    async for chunk in rest:
        drained += len(chunk)
        if drained > limit:
            return  # not worth more: the connection closes on the rest


def end_to_end(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """A passed answer's headers (names lowercased) without hop-by-hop ones: the fixed set, and those
    its ``Connection`` header names, which concern only the hop they came over (RFC 9110 7.6.1)."""
    headers = list(headers)
    named = {token.strip().lower() for name, value in headers if name == b"connection" for token in value.split(b",")}
    dropped = _HOP | named if named else _HOP
    return [(name, value) for name, value in headers if name not in dropped]


UPSTREAM_KEY = "pvegateway.upstream_seconds"  # how long a proxied node took to answer
# the status of the answer under way, set as its head goes: what the observer is told when answering is
# cut short by an exception (see ``_so_far``; a wrapper of ``send`` that watched for it cost two more
# awaits on every request)
_STATUS_KEY = "pvegateway.status"


class Limiter(Protocol):
    async def check(self, operation: Operation, identity: Identity | None, client: str | None) -> None:
        """Raise PVEError (429, with Retry-After) when this call is over its budget."""
        ...

    async def aclose(self) -> None:
        """Release the storage's connections (a Redis pool), on the loop that served the requests."""
        ...


class Exchange(NamedTuple):
    """One request as logs and metrics see it: never its parameters, headers or credentials. A named
    tuple, made on every request: a third of a frozen dataclass's cost."""

    method: str
    template: str | None  # the operation's path template, None when no operation matched
    status: int
    seconds: float
    upstream_seconds: float | None
    client: str | None


# an Exchange from its fields by tuple's own constructor: a named tuple's ``__new__`` is a Python function,
# a frame more per request
_exchange: Callable[[tuple[str, str | None, int, float, float | None, str | None]], Exchange] = \
    functools.partial(tuple.__new__, Exchange)


class Observer(Protocol):
    def record(self, exchange: Exchange) -> None: ...


# An observer's ``record_fields``, when it has one: ``record`` with the Exchange's fields as arguments, in
# its order, so that none is made (the access log's way: a third of its cost per request was the tuple)
RecordFields = Callable[[str, str | None, int, float, float | None, str | None], None]

# An exchange as it ended: ``perf_counter()`` then, and the Exchange's fields in its order
Ended = tuple[float, str, str | None, int, float, float | None, str | None]
# What answering a request tells the observer, as the request path knew it: the status sent (0: none),
# the operation's path template (None: no operation matched) and the node's time to answer (proxied).
# Handed back rather than read from the scope: those five lookups were a sixth of the access log's instructions.
Answered = tuple[int, str | None, float | None]


def _so_far(scope: Scope) -> Answered:
    """What the scope says of a request whose answering was cut short by an exception (a cancellation)."""
    route = scope.get("route")
    return (scope.get(_STATUS_KEY, 0), route.operation.path if type(route) is OperationRoute else None,
            scope.get(UPSTREAM_KEY))


@runtime_checkable
class Batching(Protocol):
    """An observer that takes exchanges in batches (the access log): each one's ``Ended`` is appended
    to ``held`` as it ends, and ``take()`` is called whenever ``held`` has ``due`` of them or more. The
    request path makes no call into the observer, which pays its own per batch: on a cheap request,
    a Python call, a clock read and the checks behind them were a third of the access log's cost."""

    held: collections.deque[Ended]
    due: int

    def take(self) -> None: ...


def record_fields(observer: Observer) -> RecordFields:
    """How ``observer`` takes an exchange field by field: its own ``record_fields``, or its ``record``."""
    own: RecordFields | None = getattr(observer, "record_fields", None)
    if own is not None:
        return own

    def by_exchange(method: str, template: str | None, status: int, seconds: float,
                    upstream_seconds: float | None, client: str | None) -> None:
        observer.record(_exchange((method, template, status, seconds, upstream_seconds, client)))
    return by_exchange


class ApiApp:
    """Answers every ``/api2...`` request like a PVE node's pveproxy would."""

    def __init__(self, router: Router, backend: Backend, *, send_reason: bool = False,
                 limiter: Limiter | None = None, observer: Observer | None = None) -> None:
        self.router = router
        self.backend = backend
        self.send_reason = send_reason
        self.limiter = limiter
        self.observer = observer  # (a property: what it records with is looked up once, here)
        # one Starlette route per operation, handled by this app; ``_routes`` finds a matched one by id
        self.routes = [OperationRoute(op, self, router) for op in router.operations]
        self._routes = {route.name: route for route in self.routes}

    @property
    def observer(self) -> Observer | None:
        """What is told of each ``/api2`` exchange once it is answered (None: nothing, at no cost)."""
        return self._observer

    @observer.setter
    def observer(self, observer: Observer | None) -> None:
        self._observer = observer
        self._record = record_fields(observer) if observer is not None else None
        self._batch = observer if isinstance(observer, Batching) else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self.handle_websocket(scope, relative_path(scope), receive, send)
            return
        await self.handle(scope, relative_path(scope), receive, send)

    async def handle(self, scope: Scope, path: str, receive: Receive, send: Send) -> None:
        """Answer a request whose path below the mount point is ``path`` (``/api2/...``)."""
        peer = scope.get("client")
        method, client = scope["method"], peer[0] if peer else None
        record = self._record
        if record is None:
            await self._handle(scope, method, client, path, receive, send)
            return
        started = perf_counter()
        answered = None
        try:
            answered = await self._handle(scope, method, client, path, receive, send)
        finally:
            ended = perf_counter()
            status, template, upstream = answered if answered is not None else _so_far(scope)
            batch = self._batch
            if batch is None:
                record(method, template, status, ended - started, upstream, client)
            else:  # no call into the observer
                held = batch.held
                held.append((ended, method, template, status, ended - started, upstream, client))
                if len(held) >= batch.due:
                    batch.take()

    async def _handle(self, scope: Scope, method: str, client: str | None, path: str, receive: Receive,
                      send: Send) -> Answered:
        """Answer the request, as PVE would, and say what went out (``Answered``)."""
        fmt = "json"
        template = None
        body_state = _Body(receive)
        receive = body_state
        try:
            match = _API_PATH.match(path)
            if match is None:
                raise PVEError(501, "no such uri", plain=True)
            fmt = match.group(1)
            rel = match.group(2) or "/"
            # ASGI servers give header names lowercased already
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            if method not in _METHODS:
                raise PVEError(501, f"method '{method}' not available", bare=True)
            body = await self._read_body(method, headers, receive)
            identity = await self.backend.authenticate(Incoming(method, rel, headers, client))
            if fmt not in envelope.FORMATS:
                raise PVEError(501, f"no formatter for uri {rel}, {fmt}", plain=True)
            found = self.router.match(method, rel)
            template = found.operation.path if found.operation is not None else None
            answer = await self._dispatch(fmt, method, rel, found, scope, headers, body, receive, identity, client)
            if isinstance(answer, Streamed):
                if answer.upstream_seconds is not None:
                    scope[UPSTREAM_KEY] = answer.upstream_seconds
                await self._stream(answer, scope, receive, send)
                return answer.status, template, answer.upstream_seconds
            # an Upgrade to a plain GET (no WebSocket handshake): its answer without the upgrade
            rendered = envelope.success(fmt, answer.data) if isinstance(answer, Upgrade) else \
                envelope.success(fmt, answer.data, answer.total, answer.changes)
        except ClientGone:
            return 0, template, None  # nothing ran for it (or its answer was under way), nobody is left to answer
        except PVEError as err:
            rendered = envelope.failure(fmt if fmt in envelope.FORMATS else "json", err)
        except Exception:
            # a bug must still answer like PVE does for a failed handler, and never leak internals
            log.exception("unhandled error on %s %s", method, path)
            error = PVEError(500, "internal error - see the gateway's log\n")
            rendered = envelope.failure(fmt if fmt in envelope.FORMATS else "json", error)
        await self._respond(rendered, scope, send, body_state if body_state.pending(scope) else None)
        return rendered.status, template, None

    async def handle_websocket(self, scope: Scope, path: str, receive: Receive, send: Send) -> None:
        """A WebSocket handshake to ``path`` (``/api2/...``): answered as the GET it is, and upgraded
        when the backend's answer is an :class:`Upgrade` (as pveproxy does: the handler runs first,
        AnyEvent.pm:982-1032). Any other answer is sent as the HTTP answer refusing the upgrade."""
        if (await receive())["type"] != "websocket.connect":
            return
        started = time.perf_counter()
        status = await self._websocket(scope, path, receive, send)
        if self._record is not None:
            route = scope.get("route")
            client = scope.get("client")
            self._record("GET", route.operation.path if isinstance(route, OperationRoute) else None, status,
                         time.perf_counter() - started, None, client[0] if client else None)

    async def _websocket(self, scope: Scope, path: str, receive: Receive, send: Send) -> int:
        """Upgrade, drop or refuse the handshake; the status it got (101: upgraded, when it ended)."""
        fmt = "json"
        try:
            match = _API_PATH.match(path)
            if match is None:
                raise PVEError(501, "no such uri", plain=True)
            fmt, rel = match.group(1), match.group(2) or "/"
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            peer = scope.get("client")
            client = peer[0] if peer else None
            identity = await self.backend.authenticate(Incoming("GET", rel, headers, client))
            if fmt not in envelope.FORMATS:
                raise PVEError(501, f"no formatter for uri {rel}, {fmt}", plain=True)
            answer = await self._dispatch(fmt, "GET", rel, self.router.match("GET", rel), scope, headers, b"",
                                          receive, identity, client)
            session = answer.connect() if isinstance(answer, Upgrade) else None
            if session is not None:
                await websocket.run(scope, receive, send, session)
                return 101
            if isinstance(answer, Upgrade | Streamed):  # nothing listens; or a proxy's: upgrades are not passed on
                if isinstance(answer, Streamed) and answer.close is not None:
                    await answer.close()
                await websocket.drop(scope, send)
                return 403
            rendered = envelope.success(fmt, answer.data, answer.total, answer.changes)
        except ClientGone:
            return 0  # as an HTTP request whose client left before its answer
        except PVEError as err:
            rendered = envelope.failure(fmt if fmt in envelope.FORMATS else "json", err)
        except Exception:
            log.exception("unhandled error on the WebSocket %s", path)
            rendered = envelope.failure("json", PVEError(500, "internal error - see the gateway's log\n"))
        if websocket.can_deny(scope):
            await self._respond(rendered, scope, websocket.denial(send, REASON_HEADER))
        else:
            await websocket.drop(scope, send)
        return rendered.status

    async def _read_body(self, method: str, headers: dict[str, str], receive: Receive) -> bytes | None:
        """The whole body (at most 512 KiB), or None for a multipart upload, which is read as a
        stream once its route is known."""
        if "chunked" in headers.get("transfer-encoding", "").lower():
            raise PVEError(501, "chunked transfer encoding not supported", plain=True)
        length_text = headers.get("content-length")
        if length_text is None and method in ("GET", "DELETE"):
            return b""  # no Content-Length, not chunked: no body (RFC 9112 6.3), nothing to receive
        length_text = (length_text or "0").strip() or "0"
        length = int(length_text) if length_text.isdigit() else 0
        if method in ("GET", "DELETE") and length > 0:
            raise PVEError(501, f"Unexpected content for method '{method}'", plain=True)
        if method in ("POST", "PUT"):
            ctype = headers.get("content-type")
            if ctype is not None and media_type(ctype) not in _BODY_TYPES:
                raise PVEError(506, f"upload 'Content-Type '{ctype}' not implemented", plain=True)
            if method == "POST" and ctype is not None and media_type(ctype) == _MULTIPART:
                return None
        if length > MAX_BODY:
            raise PVEError(501, "for data too large", plain=True)
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                # a body cut short is an aborted request, never a shorter one: pveproxy dispatches only
                # once all of Content-Length is in (pve-http-server AnyEvent.pm 1712-1719) and drops a
                # connection that ends before (on_eof, 1979-1986)
                raise ClientGone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY:
                raise PVEError(501, "for data too large", plain=True)
            chunks.append(chunk)
            more = message.get("more_body", False)
        if size < length:  # the server frames bodies by Content-Length; this is only a second line
            raise ClientGone
        return b"".join(chunks)

    async def _dispatch(
        self, fmt: str, method: str, rel: str, match: Match, scope: Scope, headers: dict[str, str],
        body: bytes | None, receive: Receive, identity: Identity | None, client: str | None,
    ) -> Result | Streamed | Upgrade:
        op = match.operation
        if op is None:
            raise PVEError(501, f"Method '{method} {rel}' not implemented")
        # what Starlette's router would have put there: instrumentation names the request by its route
        scope["route"] = self._routes[op.id]
        scope["endpoint"] = self
        scope["path_params"] = match.params
        if self.limiter is not None:
            await self.limiter.check(op, identity, client)
        ctype = headers.get("content-type", "")
        upload = None
        fields: dict[str, Any] = {}
        if body is None:  # a multipart body, still unread
            if not op.is_upload:
                raise PVEError(506, f"upload 'Content-Type '{ctype}' not implemented", plain=True)
            length_text = headers.get("content-length", "")
            length = int(length_text) if length_text.isdigit() else None
            fields, upload = await read_fields(ctype, length, receive, limit=MAX_BODY)
            body = b""
        query = scope.get("query_string", b"").decode("latin-1")
        params = gather(query, body, ctype, with_body=method in ("POST", "PUT"), protected=op.protected)
        if fields:
            params = {**fields, **params}  # the query string wins, as for other bodies
        try:
            merge_path(params, match.params)
            self.backend.authorize(op, identity, params)  # PVE checks permissions on raw parameters
            op.validator.validate(params)
            call = Call(op, params, rel, match.params, headers, identity, fmt, query, body, upload, client)
            result = await self.backend.handle(call)
        finally:
            if upload is not None:
                await _drain(upload.rest)
        return result

    async def _stream(self, answer: Streamed, scope: Scope, receive: Receive, send: Send) -> None:
        """Send a passed-through answer: its end-to-end headers, then its body as it arrives. A failure
        mid-body can only cut the connection: the status line has gone already. A client that leaves
        mid-body ends the download from the node at once (``answer.close``), instead of the gateway
        reading the rest for nobody while holding a connection to the node."""
        started = False
        gone: asyncio.Task[None] | None = None
        try:
            headers = end_to_end(answer.headers)
            if answer.status >= 400:
                headers.append((b"connection", b"close"))
            self._add_reason(headers, answer.status, answer.reason)
            scope[_STATUS_KEY] = answer.status
            await send({"type": "http.response.start", "status": answer.status, "headers": headers})
            started = True
            if isinstance(answer.body, bytes):
                await send({"type": "http.response.body", "body": answer.body})
                return
            if answer.close is not None:
                gone = asyncio.create_task(_when_gone(receive, answer.close))
            async for chunk in answer.body:
                if chunk:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            if gone is not None:
                if gone.done():
                    return  # the client left as the last chunk came: nobody to finish the answer for
                gone.cancel()  # first: a complete response makes receive() say http.disconnect too
            await send({"type": "http.response.body", "body": b""})
        except Exception as err:
            if not started:
                raise
            if gone is not None and gone.done():
                return  # the client left: the node's connection is closed already, nobody to tell
            # the client must see a short body, never a complete-looking wrong one: the connection ends
            # (a server without the extension ends it when the app returns with the answer incomplete)
            log.warning("answer cut off mid-body (%s): dropping the client connection", err.__class__.__name__)
            if ABORT_EXTENSION in (scope.get("extensions") or ()):
                await send({"type": ABORT_EXTENSION})
        finally:
            if gone is not None and not gone.cancel() and not gone.cancelled():
                gone.exception()  # retrieved: its failure (a server's receive raising) is not news
            if answer.close is not None:
                await answer.close()

    def _add_reason(self, headers: list[tuple[bytes, bytes]], status: int, reason: str) -> None:
        """The reason phrase for the server to write (see http/_uvicorn.py), when it is not the standard one."""
        if self.send_reason and reason != envelope.standard_phrase(status):
            line = reason_bytes(reason)
            if line:
                headers.append((REASON_HEADER, line))

    async def _respond(self, rendered: envelope.Rendered, scope: Scope, send: Send,
                       unread: _Body | None = None) -> None:
        """Send the answer; with ``unread``, the refused body's rest is read after the answer's bytes
        and before its end, so the client sees the answer and then an orderly close."""
        headers: list[tuple[bytes, bytes]] = [
            (b"cache-control", b"max-age=0"),
            (b"pragma", b"no-cache"),
            (b"expires", _http_date()),
            (b"server", b"pve-api-daemon/3.0"),
        ]
        if rendered.content_type:
            ctype = _TYPES.get(rendered.content_type)
            headers.append((b"content-type", ctype if ctype is not None else rendered.content_type.encode()))
        headers.append((b"content-length", b"%d" % len(rendered.body)))  # uvicorn needs it even at 0
        if rendered.status >= 400:
            headers.append((b"connection", b"close"))
        for key, value in rendered.headers.items():
            headers.append((key.lower().encode("latin-1"), value.encode("latin-1")))
        self._add_reason(headers, rendered.status, rendered.reason)
        scope[_STATUS_KEY] = rendered.status
        await send({"type": "http.response.start", "status": rendered.status, "headers": headers})
        if unread is None:
            await send({"type": "http.response.body", "body": rendered.body})
            return
        await send({"type": "http.response.body", "body": rendered.body, "more_body": True})
        await unread.drain()
        await send({"type": "http.response.body", "body": b""})
