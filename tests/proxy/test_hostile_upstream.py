"""A hostile or broken node: its answer's head is bounded (64 KiB, 100 header lines) and timed as a whole,
and what it sends is cut off there, so its bytes cannot fill the gateway's memory or hold it forever.

Each node is a raw server on 127.0.0.1 (``faulty.Node``) that counts the bytes the gateway took from it
before hanging up. The gateway once parsed any number of headers of any size (200,000 header lines
raised its peak RSS by ~180 MB, one 100 MiB header by ~400 MB) and re-armed its read timeout on every
chunk, so a node dribbling its head was never timed out.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import aiohttp
import pytest

from pvegateway.apidoc.sources import SchemaError
from pvegateway.backends.proxy.options import ProxyOptions
from pvegateway.backends.proxy.schema_fetch import fetch_upstream_schema

from .faulty import Node, Sent, reset_mid_body, sending
from .test_faults import AUTH, VERSION, gateway

READ_TIMEOUT = 0.5
MiB = 1024 * 1024


def many_headers(count: int) -> Iterable[bytes]:
    yield b"HTTP/1.1 200 OK\r\n"
    for start in range(0, count, 1000):
        yield b"".join(b"X-H%d: v\r\n" % n for n in range(start, min(start + 1000, count)))
    yield b"Content-Length: 2\r\n\r\n{}"


def one_huge_header(size: int) -> Iterable[bytes]:
    yield b"HTTP/1.1 200 OK\r\nX-Big: "
    for _ in range(size // (256 * 1024)):
        yield b"a" * (256 * 1024)
    yield b"\r\nContent-Length: 2\r\n\r\n{}"


async def get(base: str) -> tuple[int, str, dict[str, object]]:
    async with aiohttp.ClientSession(headers=AUTH, timeout=aiohttp.ClientTimeout(total=10)) as client, \
            client.get(base + VERSION) as response:
        return response.status, response.reason or "", await response.json(content_type=None)


def unavailable(node: Node, reason: str) -> str:
    return f"upstream PVE unavailable (node tried) - {node.name}: {reason}\n"


@pytest.mark.parametrize(("pieces", "reason"), [
    # ~30 MB of header lines: more than loopback's socket buffers can hold, so a node that got it all
    # out would show that the gateway kept reading (200,000 lines, 2.3 MB, fitted in the buffers)
    (many_headers(2_000_000), "answer head of more than 100 header lines"),
    (one_huge_header(100 * MiB), "answer head larger than 64 KiB"),
], ids=["2,000,000 header lines", "a 100 MiB header"])
async def test_an_oversized_answer_head_is_a_502_naming_the_node(pieces: Iterable[bytes], reason: str) -> None:
    sent = Sent()
    node = Node(sending(pieces, sent))
    await node.listen()
    async with gateway([node], read_timeout=5.0, retries=0) as base:
        status, _, body = await get(base)
    assert status == 502
    assert body == {"data": None, "message": unavailable(node, reason)}
    assert not sent.all
    assert sent.bytes < 16 * MiB  # what the sockets' buffers hold: the gateway stopped reading at the limit


async def test_a_head_at_the_limits_is_served() -> None:
    """The limits leave room: 99 header lines of ~600 bytes (about 58 KiB) pass."""
    sent = Sent()
    lines = b"".join(b"X-H%d: %s\r\n" % (n, b"v" * 600) for n in range(98))
    node = Node(sending([b"HTTP/1.1 200 OK\r\n" + lines + b"Content-Length: 11\r\n\r\n{\"data\":1}\n"], sent))
    await node.listen()
    async with gateway([node]) as base:
        status, _, body = await get(base)
    assert (status, body) == (200, {"data": 1})


async def test_a_dribbled_answer_head_times_out_as_a_whole() -> None:
    """One byte every 50 ms: each byte came well within the read timeout, the head never does."""
    sent = Sent()
    head = b"HTTP/1.1 200 OK\r\nX-Slow: " + b"s" * 400 + b"\r\nContent-Length: 2\r\n\r\n{}"
    node = Node(sending([head[i:i + 1] for i in range(len(head))], sent, pause=0.05))
    await node.listen()
    async with gateway([node], read_timeout=READ_TIMEOUT, retries=0) as base:
        started = asyncio.get_running_loop().time()
        status, _, body = await get(base)
        took = asyncio.get_running_loop().time() - started
    assert status == 502
    assert body["message"] == unavailable(node, f"answer head not complete within {READ_TIMEOUT:g} s")
    assert READ_TIMEOUT * 0.9 < took < READ_TIMEOUT + 2.0
    assert not sent.all


@pytest.fixture
async def huge_head_node() -> AsyncIterator[tuple[Node, Sent]]:
    sent = Sent()
    async with Node(sending(one_huge_header(100 * MiB), sent)) as node:
        await node.listen()
        yield node, sent


async def test_apidoc_upstream_bounds_the_head_too(huge_head_node: tuple[Node, Sent], tmp_path: Path) -> None:
    """``--apidoc upstream`` (and codegen's ``source=upstream``) read with the same client."""
    node, sent = huge_head_node
    options = ProxyOptions(upstreams=[node.url], read_timeout=5.0)
    with pytest.raises(SchemaError) as refused:
        await fetch_upstream_schema(options, tmp_path)
    assert f"{node.name}: answer head larger than 64 KiB" in str(refused.value)
    assert sent.bytes < 16 * MiB


@pytest.mark.parametrize("size", [2, 4 * MiB], ids=["whole at once", "streamed"])
async def test_headers_the_node_names_in_connection_stay_on_its_hop(size: int) -> None:
    """RFC 9110 7.6.1: a proxy removes every header its ``Connection`` header names (PVE itself never
    names one: pve-http-server AnyEvent.pm 367-369 sends ``Keep-Alive`` or ``close``). ``Date`` is the
    gateway's own, as before."""
    sent = Sent()
    head = (b"HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Secret\r\nconnection: X-Hop-Too\r\n"
            b"X-Secret: s3cr3t\r\nX-Hop-Too: h\r\nX-Kept: k\r\nContent-Type: application/json;charset=UTF-8\r\n"
            b"Content-Length: %d\r\n\r\n" % size)
    node = Node(sending([head, b"{}" if size == 2 else b" " * (size - 2) + b"{}"], sent))
    await node.listen()
    async with gateway([node]) as base, aiohttp.ClientSession(headers=AUTH) as client, \
            client.get(base + VERSION) as response:
        assert response.status == 200
        assert len(await response.read()) == size
        names = {name.lower() for name in response.headers}
    assert "x-kept" in names
    assert not names & {"x-secret", "x-hop-too"}


async def test_an_answer_cut_mid_body_is_logged_once_by_the_gateway(caplog: pytest.LogCaptureFixture) -> None:
    """The client sees a short body and the connection's end; the log says so once, in the gateway's
    words, not also as uvicorn's 'ASGI callable returned without completing response' error."""
    cut = asyncio.Event()
    node = Node(reset_mid_body(cut, b"x" * 100_000, 50_000))
    await node.listen()
    async with gateway([node]) as base:
        reader, writer = await asyncio.open_connection("127.0.0.1", int(base.rsplit(":", 1)[1]))
        writer.write(f"GET {VERSION} HTTP/1.1\r\nHost: gw\r\nAuthorization: {AUTH['Authorization']}\r\n\r\n"
                     .encode())
        await reader.readuntil(b"\r\n\r\n")
        await reader.readexactly(50_000)
        cut.set()
        assert await reader.read() == b""  # the end of the connection, 50,000 bytes short
        writer.close()
    messages = [record.getMessage() for record in caplog.records]
    assert sum("answer cut off mid-body" in message for message in messages) == 1, messages
    assert not [message for message in messages if "ASGI callable" in message]
