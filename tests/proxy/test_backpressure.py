"""The read timeout measures the node, not the client: while a slow client holds the proxy's reading
paused (its buffer full), no timeout runs; once reading resumes, a node that stalls still times out."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from pvegateway.backends.proxy.http1 import Client, Endpoint, UpstreamFailure, request_head

READ_TIMEOUT = 0.2
BODY = 2 * 1024 * 1024  # far above the proxy's 256 KiB high-water mark: reading pauses


async def _node(sent: int) -> AsyncIterator[int]:
    """A node on 127.0.0.1 answering with a ``BODY``-byte Content-Length, of which it sends ``sent``
    bytes at once and then (when short) nothing more while the connection stays open."""
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % BODY + b"x" * sent)
            await writer.drain()
            await reader.read()  # until the proxy closes (or resets: it aborts a failed connection)
        except ConnectionError:
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1]


async def _download(port: int) -> int:
    """Read the answer like a slow client: one chunk, then a pause of several read timeouts, then the rest."""
    client = Client(Endpoint("127.0.0.1", port, None), connect_timeout=5.0, read_timeout=READ_TIMEOUT,
                    keepalive=4.0)
    head = request_head("GET", "/api2/json/nodes/pve1/tasks/x/log", b"127.0.0.1", {}, None)
    connection = await client.request(head, None, None, idempotent=True)
    received = 0
    try:
        async for chunk in connection.body():
            if received == 0:
                await asyncio.sleep(READ_TIMEOUT * 3)  # the slow client under test, not a wait for state
            received += len(chunk)
    finally:
        client.release(connection)
        client.close()
    return received


async def test_a_slow_client_does_not_make_the_node_time_out() -> None:
    async for port in _node(BODY):
        assert await _download(port) == BODY


async def test_a_node_stalling_after_the_client_caught_up_still_times_out() -> None:
    async for port in _node(BODY // 2):
        with pytest.raises(UpstreamFailure, match="read timed out"):
            await _download(port)
