"""termproxy's protocol (pve-xtermjs termproxy/src/main.rs), as a browser's xterm.js speaks it.

The client first sends ``<authid>:<ticket>\\n``; the ticket must be the one termproxy was started
with and pass PVE's vncticket check (user, path, privilege, port); then termproxy answers ``OK`` and
passes the terminal's output on as it comes. Input comes framed: ``0:<length>:<data>`` is typed data,
``1:<cols>:<rows>:`` a resize, ``2`` a ping (ignored, like anything else it does not know).
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Callable

from ...base import Channel
from .registry import CONNECT_TIMEOUT, Console
from .shell import LineShell
from .stream import Inbox

TICKET_LINE_LIMIT = 4096  # termproxy's read buffer: a longer first line is refused
NUMBER_LIMIT = 20  # termproxy drops 20 bytes of a number that does not end (main.rs remove_number)
AUTH_FAILED = "authentication request failed"  # main.rs: the same text whatever failed, on purpose

Verify = Callable[[str, str], bool]
"""Whether (authid, ticket) passes the vncticket check (pve-access-control API2/AccessControl.pm)."""


async def _ticket_line(inbox: Inbox) -> tuple[str, str]:
    try:
        line = await asyncio.wait_for(inbox.line(TICKET_LINE_LIMIT), CONNECT_TIMEOUT)
    except TimeoutError:
        raise _Refused("failed reading ticket: timed out") from None
    except ConnectionResetError:
        raise _Refused("failed reading ticket: connection closed before authentication") from None
    if line is None:
        raise _Refused("failed reading ticket: authentication data is incomplete")
    authid, colon, ticket = line.partition(b":")
    if not colon:
        raise _Refused("failed reading ticket: authentication data is invalid")
    return authid.decode("utf-8", "replace"), ticket.decode("utf-8", "replace")


class _Refused(Exception):
    pass


def _number(buffer: bytearray, start: int) -> tuple[int, int] | None:
    """The decimal number at ``start`` up to its ':', and where the rest begins; None: incomplete."""
    end = buffer.find(b":", start, start + NUMBER_LIMIT + 1)
    if end < 0:
        return None
    text = bytes(buffer[start:end])
    return (int(text), end + 1) if text.isdigit() else (-1, end + 1)


def _frames(buffer: bytearray, shell: LineShell) -> bytes:
    """Apply every complete frame at the buffer's start; what the terminal shows for them."""
    out = bytearray()
    while len(buffer) >= 2 or buffer[:1] == b"2":
        kind = buffer[0]
        if kind == ord("0"):
            length = _number(buffer, 2)
            if length is None or length[1] + max(length[0], 0) > len(buffer):
                break
            size, start = length
            out += shell.feed(bytes(buffer[start:start + max(size, 0)]))
            del buffer[:start + max(size, 0)]
        elif kind == ord("1"):
            cols = _number(buffer, 2)
            rows = _number(buffer, cols[1]) if cols is not None else None
            if cols is None or rows is None:
                break
            if cols[0] > 0 and rows[0] > 0:
                shell.resize(cols[0], rows[0])
            del buffer[:rows[1]]
        else:  # a ping, or anything else: one byte skipped
            del buffer[:1]
    return bytes(out)


async def serve(console: Console, channel: Channel, verify: Verify) -> str | None:
    inbox = Inbox(channel)
    try:
        authid, ticket = await _ticket_line(inbox)
    except _Refused as refused:
        return f"{refused}"
    # the pinned ticket first (main.rs do_main), then the API's check, both failing alike
    if not hmac.compare_digest(ticket.encode(), console.ticket.encode()) or not verify(authid, ticket):
        return AUTH_FAILED
    await channel.send(b"OK")
    shell = LineShell(console.name)
    await channel.send(shell.prompt)
    while not shell.ended:
        shown = _frames(inbox.buffer, shell)
        if shown:
            await channel.send(shown)
        if not shell.ended:
            await inbox.fill()
    return None
