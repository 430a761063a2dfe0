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


def _numbers(buffer: bytearray, start: int, count: int) -> tuple[list[int], int] | None:
    """``count`` decimal numbers from ``start``, each ended by ':', and where the rest begins; None
    while they are incomplete. One that does not end within NUMBER_LIMIT bytes, or is no number, is
    -1 (termproxy drops such bytes: main.rs remove_number)."""
    values = []
    for _ in range(count):
        end = buffer.find(b":", start, start + NUMBER_LIMIT + 1)
        if end < 0:
            if len(buffer) - start <= NUMBER_LIMIT:
                return None
            values.append(-1)
            start += NUMBER_LIMIT
            continue
        text = bytes(buffer[start:end])
        values.append(int(text) if text.isdigit() else -1)
        start = end + 1
    return values, start


class Input:
    """termproxy's input framing (main.rs process_queue); typed data goes to the terminal as it
    arrives, never buffered up to a frame's announced length."""

    def __init__(self, shell: LineShell) -> None:
        self.shell = shell
        self.remaining = 0  # bytes of the current data frame still to come

    def feed(self, buffer: bytearray) -> bytes:
        """Consume what can be of ``buffer``; what the terminal shows for it."""
        out = bytearray()
        while buffer and not self.shell.ended:
            if self.remaining:
                data = bytes(buffer[:self.remaining])
                del buffer[:len(data)]
                self.remaining -= len(data)
                out += self.shell.feed(data)
                continue
            if len(buffer) < 2:
                break
            kind = buffer[0]
            if kind in (ord("0"), ord("1")):
                parsed = _numbers(buffer, 2, 1 if kind == ord("0") else 2)
                if parsed is None:
                    break
                values, end = parsed
                del buffer[:end]
                if kind == ord("0"):
                    self.remaining = max(values[0], 0)
                elif min(values) > 0:
                    self.shell.resize(values[0], values[1])
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
    typed = Input(shell)
    while not shell.ended:
        shown = typed.feed(inbox.buffer)
        if shown:
            await channel.send(shown)
        if not shell.ended:
            await inbox.fill()
    return None
