"""An RFB 3.8 server (RFC 6143) behind a vncproxy/vncshell console: VNC authentication with the
console's password, then a black framebuffer, updated when the client asks for all of it.

PVE's websocket consoles authenticate in the VNC protocol with the password the API answered with
(qemu-server src/PVE/API2/Qemu.pm:3025-3029, 3070; vncterm gets it as PVE_VNC_TICKET); the ticket the
answer carries starts with that password, so a client may give the whole ticket: DES uses 8 bytes.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
import struct

from ...base import Channel
from .des import vnc_response
from .registry import CONNECT_TIMEOUT, Console
from .stream import Inbox

VERSION = b"RFB 003.008\n"
VNC_AUTH = 2
RRE = 2  # encoding: a background colour and no subrectangles is a whole area in a few bytes
AUTH_FAILED = b"Authentication failed"  # QEMU's reason (ui/vnc.c)
# 32 bits per pixel, depth 24, little-endian, true colour, 8 bits each, red/green/blue at 16/8/0
PIXEL_FORMAT = struct.pack(">BBBBHHHBBB3x", 32, 24, 0, 1, 255, 255, 255, 16, 8, 0)
CUT_TEXT_LIMIT = 1 << 20
_FIXED_SIZES = {0: 19, 4: 7, 5: 5}  # message type -> bytes after the type: SetPixelFormat, Key, Pointer
NO_VENCRYPT = b"the mock offers VNC authentication only: open the console with websocket=1"


def _u32(value: int) -> bytes:
    return struct.pack(">I", value)


def _with_reason(reason: bytes) -> bytes:
    return _u32(len(reason)) + reason


async def _handshake(console: Console, inbox: Inbox, channel: Channel) -> bool:
    """Version, security and authentication; True when the client may go on."""
    await channel.send(VERSION)
    version = await inbox.exactly(12)
    minor = {b"RFB 003.003\n": 3, b"RFB 003.007\n": 7, b"RFB 003.008\n": 8}.get(version)
    if minor is None:
        return False
    if console.password is None:
        # without a password, PVE's vncterm wants VeNCrypt with TLS and the ticket (no websocket=1)
        await channel.send((b"\x00" if minor >= 7 else _u32(0)) + _with_reason(NO_VENCRYPT))
        return False
    if minor >= 7:
        await channel.send(bytes((1, VNC_AUTH)))
        if (await inbox.exactly(1))[0] != VNC_AUTH:
            await channel.send(_u32(1) + (_with_reason(b"Invalid security type") if minor == 8 else b""))
            return False
    else:
        await channel.send(_u32(VNC_AUTH))
    challenge = secrets.token_bytes(16)
    await channel.send(challenge)
    answer = await inbox.exactly(16)
    if not hmac.compare_digest(answer, vnc_response(console.password.encode(), challenge)):
        await channel.send(_u32(1) + (_with_reason(AUTH_FAILED) if minor == 8 else b""))
        return False
    await channel.send(_u32(0))
    return True


def _update(console: Console, area: tuple[int, int, int, int], encodings: set[int], bpp: int) -> bytes:
    """One rectangle of black over the asked area (clipped to the screen)."""
    width, height = console.size
    x, y = min(area[0], width), min(area[1], height)
    w, h = min(area[2], width - x), min(area[3], height - y)
    pixel = bytes(bpp // 8)  # black is all zero bits in every true-colour format
    if RRE in encodings:
        body = _u32(0) + pixel
        encoding = RRE
    else:
        body = pixel * (w * h)
        encoding = 0
    return struct.pack(">BxHHHHHi", 0, 1, x, y, w, h, encoding) + body


async def serve(console: Console, channel: Channel) -> str | None:
    inbox = Inbox(channel)
    try:
        if not await asyncio.wait_for(_handshake(console, inbox, channel), CONNECT_TIMEOUT):
            return None
        await asyncio.wait_for(inbox.exactly(1), CONNECT_TIMEOUT)  # ClientInit: shared or not
    except TimeoutError:
        return None
    name = console.name.encode()
    await channel.send(struct.pack(">HH", *console.size) + PIXEL_FORMAT + _u32(len(name)) + name)
    encodings: set[int] = set()
    bpp = 32
    while True:
        kind = (await inbox.exactly(1))[0]
        if kind in _FIXED_SIZES:
            body = await inbox.exactly(_FIXED_SIZES[kind])
            if kind == 0:
                bpp = body[3] if body[3] in (8, 16, 32) else bpp
        elif kind == 2:  # SetEncodings
            count = struct.unpack(">xH", await inbox.exactly(3))[0]
            encodings = set(struct.unpack(f">{count}i", await inbox.exactly(4 * count)))
        elif kind == 3:  # FramebufferUpdateRequest: an incremental one waits for a change, which never comes
            incremental, *area = struct.unpack(">BHHHH", await inbox.exactly(9))
            if not incremental:
                await channel.send(_update(console, (area[0], area[1], area[2], area[3]), encodings, bpp))
        elif kind == 6:  # ClientCutText
            length = struct.unpack(">3xI", await inbox.exactly(7))[0]
            if length > CUT_TEXT_LIMIT:
                return None
            await inbox.exactly(length)
        else:
            return None  # a message it does not know: the server closes the connection
