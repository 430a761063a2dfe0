"""A console connection's incoming bytes as a stream: WebSocket messages carry a byte protocol (RFB,
termproxy's) whose units need not line up with the messages."""

from __future__ import annotations

from ...base import Channel


class Inbox:
    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.buffer = bytearray()

    async def fill(self) -> None:
        """Wait for the next message; the client leaving ends the session (ConnectionResetError)."""
        data = await self.channel.receive()
        if data is None:
            raise ConnectionResetError("the client has gone")
        self.buffer += data

    async def exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            await self.fill()
        out = bytes(self.buffer[:size])
        del self.buffer[:size]
        return out

    async def line(self, limit: int) -> bytes | None:
        """Up to the first newline (dropped), or None when ``limit`` bytes came without one."""
        while b"\n" not in self.buffer:
            if len(self.buffer) >= limit:
                return None
            await self.fill()
        end = self.buffer.index(b"\n")
        out = bytes(self.buffer[:end])
        del self.buffer[:end + 1]
        return out
