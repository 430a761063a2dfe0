"""The ASGI side of a WebSocket upgrade: refuse it with an HTTP answer, drop it, or accept it and run
a session over it.

pveproxy answers a ``GET .../vncwebsocket`` with ``Upgrade: websocket`` like any GET first, and
upgrades only when that answer is 200 (pve-http-server src/PVE/APIServer/AnyEvent.pm:1018-1032); the
frames are then passed between the client and the console's port, everything towards the client as
binary frames (AnyEvent.pm:555-576, 607-617). The server (uvicorn) does the framing here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from ..backends.base import Session

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

log = logging.getLogger(__name__)
DENIAL_EXTENSION = "websocket.http.response"
_SUBPROTOCOL = "binary"  # what noVNC and PVE's xterm.js ask for


def can_deny(scope: MutableMapping[str, Any]) -> bool:
    """Whether the server can send an HTTP answer instead of the upgrade (the ASGI extension)."""
    return DENIAL_EXTENSION in (scope.get("extensions") or {})


def denial(send: Send, hidden: bytes) -> Send:
    """``send`` for an HTTP answer refusing the upgrade: the answer's messages become the denial
    extension's, without the header named ``hidden`` (the reason phrase meant for the HTTP protocol)."""

    async def deny(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [(name, value) for name, value in message.get("headers", ()) if name != hidden]
            await send({"type": "websocket.http.response.start", "status": message["status"], "headers": headers})
        else:
            await send({"type": "websocket.http.response.body", "body": message.get("body", b""),
                        "more_body": message.get("more_body", False)})

    return deny


async def drop(scope: MutableMapping[str, Any], send: Send) -> None:
    """Refuse the upgrade without an answer of the backend's (pveproxy, failing to reach the port,
    sends nothing at all): 403 and the connection closed, which is what uvicorn answers to a close
    before the accept, but saying so, so that no client puts the connection back in its pool."""
    if not can_deny(scope):
        await send({"type": "websocket.close", "code": 1006})
        return
    await send({"type": "websocket.http.response.start", "status": 403,
                "headers": [(b"content-length", b"0"), (b"connection", b"close")]})
    await send({"type": "websocket.http.response.body", "body": b""})


class _Connection:
    """An accepted WebSocket as a :class:`~pvegateway.backends.base.Channel`."""

    def __init__(self, receive: Receive, send: Send) -> None:
        self._receive = receive
        self._send = send
        self.gone = False

    async def receive(self) -> bytes | None:
        while not self.gone:
            message = await self._receive()
            if message["type"] == "websocket.disconnect":
                self.gone = True
            elif message["type"] == "websocket.receive":
                data = message.get("bytes")
                return data if data is not None else str(message.get("text") or "").encode()
        return None

    async def send(self, data: bytes) -> None:
        if self.gone:
            raise ConnectionResetError("the client has gone")
        await self._send({"type": "websocket.send", "bytes": data})


async def run(scope: MutableMapping[str, Any], receive: Receive, send: Send, session: Session) -> None:
    """Accept the upgrade and run ``session`` until it ends or the client leaves; then close.

    pveproxy echoes the subprotocol the client asked for (AnyEvent.pm:705-715); ASGI can only choose
    one of those offered: ``binary`` when offered, else the first.
    """
    offered: list[str] = list(scope.get("subprotocols") or ())
    chosen = _SUBPROTOCOL if _SUBPROTOCOL in offered else (offered[0] if offered else None)
    connection = _Connection(receive, send)
    try:
        await send({"type": "websocket.accept", "subprotocol": chosen})
    except (ConnectionError, OSError):
        connection.gone = True  # the session still runs, to its end at once: what it holds is released
    try:
        await session(connection)
    except (ConnectionError, OSError, asyncio.IncompleteReadError):
        pass  # the client left mid-session: nobody to tell
    except Exception:
        log.exception("a WebSocket session failed")
    finally:
        if not connection.gone:
            with contextlib.suppress(ConnectionError, OSError, RuntimeError):
                await send({"type": "websocket.close", "code": 1000})
