"""The Backend protocol and what it receives."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ..apidoc.operation import Operation

if TYPE_CHECKING:
    from starlette.routing import BaseRoute


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a request runs as: a user, or one of its API tokens (``user@realm!name``)."""

    userid: str
    tokenid: str | None = None
    ticket: bool = False
    credentials: str | None = field(default=None, repr=False)

    @property
    def authid(self) -> str:
        return f"{self.userid}!{self.tokenid}" if self.tokenid else self.userid


@dataclass(slots=True)  # made on every request: a frozen one's __init__ costs several times more
class Incoming:
    """What authentication sees: before the route is looked up, like PVE's auth_handler."""

    method: str
    path: str
    headers: Mapping[str, str]
    client: str | None = None  # the caller's address (what wrong keys are counted against)


@dataclass(frozen=True, slots=True)
class Upload:
    """A ``multipart/form-data`` upload being received: the form fields before the file part were
    read (and validated), ``prefix`` holds their bytes and the file part's headers, ``rest`` yields
    what is left of the body as it arrives (never buffered whole)."""

    content_type: str
    length: int | None
    prefix: bytes
    rest: AsyncIterator[bytes]


@dataclass(slots=True)  # made on every request: a frozen one's __init__ costs several times more
class Call:
    """One validated request: its operation, the merged parameters and the concrete path.

    ``fmt``, ``query`` and ``body`` are the request as it came (a proxy forwards them verbatim).
    """

    operation: Operation
    params: Mapping[str, Any]
    path: str
    path_params: Mapping[str, str]
    headers: Mapping[str, str]
    identity: Identity | None = None
    fmt: str = "json"
    query: str = ""
    body: bytes = b""
    upload: Upload | None = None
    client: str | None = None  # the caller's address (what a login throttle counts failures against)


@dataclass(slots=True)  # made on every request: a frozen one's __init__ costs several times more
class Result:
    data: Any = None
    total: Any = None
    changes: Any = None


@dataclass(slots=True)
class Streamed:
    """An answer passed through as it is (a proxy's): status, reason phrase, headers and a body that
    is sent chunk by chunk as it arrives, or at once when it is all there already (``bytes``).
    ``close`` runs when the body was sent or abandoned."""

    status: int
    reason: str
    headers: Sequence[tuple[bytes, bytes]]
    body: AsyncIterator[bytes] | bytes
    close: Callable[[], Awaitable[None]] | None = None
    upstream_seconds: float | None = None  # a proxy's: from sending the request to the answer's headers


class Channel(Protocol):
    """A WebSocket connection as a session behind it sees it: a stream of binary messages."""

    async def receive(self) -> bytes | None:
        """The next message's payload (a text message's as UTF-8); None once the client has gone."""
        ...

    async def send(self, data: bytes) -> None:
        """One binary message, as pveproxy frames what the console sends (AnyEvent.pm websocket_proxy)."""
        ...


Session = Callable[[Channel], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Upgrade:
    """An answer to a GET that a WebSocket may upgrade (PVE's ``.../vncwebsocket``, whose handler only
    checks the ticket: AnyEvent.pm handle_api2_request upgrades after it answered 200). Without an
    upgrade the client gets ``data``; with one, ``connect`` is asked for the session behind the port
    (None: nothing listens there, and the connection is dropped, as pveproxy's connect fails)."""

    data: Any
    connect: Callable[[], Session | None]


class Backend(Protocol):
    name: str  # what ``create_app`` knows it by (mock, proxy, generic), for logs and metrics

    async def startup(self) -> None: ...

    async def shutdown(self) -> None: ...

    async def authenticate(self, request: Incoming) -> Identity | None:
        """Who is calling; raise PVEError (401) to refuse. None: this backend does not authenticate."""
        ...

    def authorize(self, operation: Operation, identity: Identity | None, params: Mapping[str, Any]) -> None:
        """Raise PVEError (403) when ``identity`` may not call ``operation`` (on raw parameters, like PVE)."""
        ...

    async def handle(self, call: Call) -> Result | Streamed | Upgrade:
        """Answer ``call``, or raise PVEError with PVE's status and message."""
        ...


# Optional capabilities: a backend has them or not, and the gateway asks with isinstance.


@runtime_checkable
class SiteRoutes(Protocol):
    def site_routes(self) -> Sequence[BaseRoute]:
        """Routes of the backend's own served next to ``/openapi.json`` (the mock's control API)."""
        ...


@runtime_checkable
class Rebindable(Protocol):
    def rebind(self, operations: Sequence[Operation]) -> None:
        """Answer another schema's operations from now on (a live schema swap), keeping its state."""
        ...


class NodeConnection(Protocol):
    def abort(self) -> None: ...


class NodeClient(Protocol):
    async def connect(self) -> NodeConnection:
        """A connection to the node: TCP, TLS and certificate pins as requests have them."""
        ...


@runtime_checkable
class Upstreams(Protocol):
    def upstream_clients(self) -> Sequence[tuple[str, NodeClient]]:
        """The PVE nodes in front of which the backend stands: name and client (what /readyz tries)."""
        ...
