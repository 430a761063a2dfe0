"""Proxy mode against nodes that fail: what a caller sees, and that the gateway keeps serving.

Every node here is a purpose-built server from ``faulty`` on 127.0.0.1; the gateway is the real one
under uvicorn. Stalls are released by events; the only clock involved is the gateway's own read
timeout, set small.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from pvegateway.app import create_app
from tests.live import live_server

from .faulty import (
    Node,
    answer,
    by_path,
    garbage,
    nodes,
    pve_error,
    pve_json,
    reset_mid_body,
    server_tls,
    stall,
    stall_body,
)

VERSION = "/api2/json/version"
NODE_STATUS = "/api2/json/nodes/pve1/status"
START = "/api2/json/nodes/pve1/qemu/100/status/start"
TICKET = "/api2/json/access/ticket"
# the caller's credential: the proxy forwards it, the faulty nodes ignore it
AUTH = {"Authorization": "PVEAPIToken=root@pam!t=00000000-0000-0000-0000-000000000000"}
READ_TIMEOUT = 0.5
WRONG_PIN = ":".join(["AB"] * 32)
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@contextlib.asynccontextmanager
async def gateway(upstreams: Sequence[Node], **options: Any) -> AsyncIterator[str]:
    """The gateway in proxy mode in front of ``upstreams``, served over a real socket.

    The nodes are closed before the gateway: a proxied request still in flight then fails at once
    instead of holding the gateway's shutdown.
    """
    options.setdefault("connect_timeout", 2.0)
    options.setdefault("read_timeout", 5.0)
    app = create_app(None, "proxy", send_reason=True, upstreams=[n.url for n in upstreams], **options)
    with live_server(app) as base:
        try:
            yield base
        finally:
            for node in upstreams:
                await node.close()


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(headers=AUTH) as session:
        yield session


async def get_json(client: aiohttp.ClientSession, url: str) -> tuple[int, str, Any]:
    async with client.get(url) as resp:
        return resp.status, resp.reason or "", await resp.json()


# ---- pooling ----------------------------------------------------------------------------------------

async def test_requests_share_a_kept_alive_connection(client: aiohttp.ClientSession) -> None:
    async with nodes(answer()) as (node,), gateway([node]) as base:
        for _ in range(10):
            status, _, _ = await get_json(client, base + VERSION)
            assert status == 200
        assert (len(node.requests), node.connections) == (10, 1)


# ---- failover ---------------------------------------------------------------------------------------

async def test_failover_skips_a_refusing_node_and_tries_it_last_afterwards(client: aiohttp.ClientSession) -> None:
    async with nodes(None, answer()) as (down, up), gateway([down, up]) as base:
        assert await get_json(client, base + VERSION) == (200, "OK", {"data": {"path": VERSION, "method": "GET"}})
        assert len(up.requests) == 1
        # the first node comes back, but failed a moment ago: the healthy one is still preferred
        await down.listen()
        for _ in range(3):
            status, _, _ = await get_json(client, base + VERSION)
            assert status == 200
        assert down.connections == 0
        assert len(up.requests) == 4


async def test_a_refused_post_goes_to_the_next_node_since_nothing_was_sent(client: aiohttp.ClientSession) -> None:
    async with nodes(None, answer()) as (down, up), gateway([down, up]) as base:
        async with client.post(base + START, data=b"", headers=FORM) as resp:
            assert resp.status == 200
        assert [r.method for r in up.requests] == ["POST"]


async def test_all_nodes_down_is_a_quick_503_naming_each(client: aiohttp.ClientSession) -> None:
    async with nodes(None, None) as (first, second), gateway([first, second]) as base:
        started = time.monotonic()
        async with client.get(base + VERSION) as resp:
            body = await resp.json()
            elapsed = time.monotonic() - started
            assert resp.status == 503
            assert resp.headers["Connection"] == "close"
            assert resp.reason == body["message"].split("\n")[0]
        assert body == {
            "data": None,
            "message": f"upstream PVE unavailable (2 nodes tried) - {first.name}: cannot connect (Connection refused); "
                       f"{second.name}: cannot connect (Connection refused)\n",
        }
        assert elapsed < 1.0


# ---- stalls -----------------------------------------------------------------------------------------

async def test_a_stalled_get_is_504_after_the_read_timeout(client: aiohttp.ClientSession) -> None:
    release = asyncio.Event()
    async with nodes(stall(release)) as (node,), gateway([node], read_timeout=READ_TIMEOUT) as base:
        started = time.monotonic()
        status, reason, body = await get_json(client, base + VERSION)
        elapsed = time.monotonic() - started
        assert status == 504
        message = f"upstream PVE unavailable (node tried) - {node.name}: read timed out"
        assert body == {"data": None, "message": message + "\n"}
        assert reason == message
        assert READ_TIMEOUT <= elapsed < READ_TIMEOUT + 1.5


async def test_a_stalled_get_is_retried_on_the_next_node(client: aiohttp.ClientSession) -> None:
    release = asyncio.Event()
    async with nodes(stall(release), answer()) as (slow, up), gateway([slow, up], read_timeout=READ_TIMEOUT) as base:
        status, _, body = await get_json(client, base + NODE_STATUS)
        assert (status, body) == (200, {"data": {"path": NODE_STATUS, "method": "GET"}})
        assert [r.path for r in slow.requests] == [NODE_STATUS]
        assert [r.path for r in up.requests] == [NODE_STATUS]


async def test_a_stalled_post_is_not_sent_to_another_node(client: aiohttp.ClientSession) -> None:
    """The first node may have started the VM: sending the POST again could do it twice."""
    release = asyncio.Event()
    async with nodes(stall(release), answer()) as (slow, up), gateway([slow, up], read_timeout=READ_TIMEOUT) as base:
        async with client.post(base + START, data=b"", headers=FORM) as resp:
            body = await resp.json()
            assert resp.status == 504
        assert body["message"] == f"upstream PVE unavailable (node tried) - {slow.name}: read timed out\n"
        assert [r.method for r in slow.requests] == ["POST"]
        assert up.requests == []
        assert up.connections == 0


async def test_a_stalled_request_does_not_hold_up_the_others(client: aiohttp.ClientSession) -> None:
    release = asyncio.Event()
    node_side = by_path({NODE_STATUS: stall(release, then=answer())}, answer())
    async with nodes(node_side) as (node,), gateway([node], read_timeout=30) as base:
        stalled = asyncio.ensure_future(get_json(client, base + NODE_STATUS))
        await node.wait_requests(1)
        others = await asyncio.gather(*(get_json(client, base + VERSION) for _ in range(20)))
        assert [status for status, _, _ in others] == [200] * 20
        assert not stalled.done()
        release.set()
        assert await stalled == (200, "OK", {"data": {"path": NODE_STATUS, "method": "GET"}})


async def test_a_body_that_stalls_is_cut_after_the_read_timeout(client: aiohttp.ClientSession) -> None:
    release = asyncio.Event()
    body = pve_json({"filler": "x" * 4000})
    node_side = by_path({NODE_STATUS: stall_body(release, body, 1000)}, answer())
    async with nodes(node_side) as (node,), gateway([node], read_timeout=READ_TIMEOUT) as base:
        started = time.monotonic()
        async with client.get(base + NODE_STATUS) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Length"] == str(len(body))
            with pytest.raises(aiohttp.ClientPayloadError):
                await resp.read()
        assert READ_TIMEOUT <= time.monotonic() - started < READ_TIMEOUT + 1.5
        release.set()
        assert (await get_json(client, base + VERSION))[0] == 200


# ---- broken answers ---------------------------------------------------------------------------------

async def test_a_reset_mid_body_reaches_the_client_as_a_short_body(client: aiohttp.ClientSession) -> None:
    cut = asyncio.Event()
    body = pve_json({"filler": "y" * 20000})
    node_side = by_path({NODE_STATUS: reset_mid_body(cut, body, 5000)}, answer())
    async with nodes(node_side) as (node,), gateway([node]) as base:
        async with client.get(base + NODE_STATUS) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Length"] == str(len(body))
            cut.set()
            with pytest.raises(aiohttp.ClientPayloadError):
                await resp.read()
        # the gateway is unharmed, and still uses that node
        assert await get_json(client, base + VERSION) == (200, "OK", {"data": {"path": VERSION, "method": "GET"}})
        assert len(node.requests) == 2


PVE_ERRORS = [
    (500, "Configuration file 'nodes/pve1/qemu-server/999.conf' does not exist\n"),
    (500, "VM 100 not running\n"),
    (596, "Connection timed out\n"),
    (503, "service 'ct:101' not in cluster\nsecond line of detail\n"),
]


@pytest.mark.parametrize(("status", "message"), PVE_ERRORS)
async def test_a_pve_error_passes_through_verbatim_and_is_not_retried(
    client: aiohttp.ClientSession, status: int, message: str
) -> None:
    responder, sent = pve_error(status, message)
    async with nodes(responder, answer()) as (failing, other), gateway([failing, other]) as base:
        async with client.get(base + "/api2/json/nodes/pve1/qemu/999/config") as resp:
            assert resp.status == status
            assert resp.reason == message.split("\n")[0]
            assert await resp.read() == sent
            assert resp.headers["Content-Type"] == "application/json;charset=UTF-8"
            assert resp.headers["Server"] == "pve-api-daemon/3.0"
            assert resp.headers["Connection"] == "close"
        # an answer is an answer, whatever its status: nothing is sent to the other node
        assert other.connections == 0


NOT_HTTP = [
    (b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n", "invalid HTTP answer (Bad status line)"),
    (b"\x16\x03\x01\x00\xa5\x01\x00", "invalid HTTP answer (Bad status line)"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: many\r\n\r\n", "invalid HTTP answer (Invalid character in Content-Length)"),
    (b"", "connection closed before an answer"),
]


@pytest.mark.parametrize(("data", "why"), NOT_HTTP)
async def test_a_non_http_answer_is_a_clear_502(client: aiohttp.ClientSession, data: bytes, why: str) -> None:
    async with nodes(garbage(data)) as (node,), gateway([node]) as base:
        async with client.get(base + VERSION) as resp:
            body = await resp.json()
            assert resp.status == 502
            assert resp.headers["Connection"] == "close"
        message = f"upstream PVE unavailable (node tried) - {node.name}: {why}"
        assert (resp.reason, body) == (message, {"data": None, "message": message + "\n"})
        # and the gateway answers the next caller the same way, without hanging
        assert (await get_json(client, base + VERSION))[0] == 502


async def test_pves_bare_401_ends_with_its_connection_and_passes_through(client: aiohttp.ClientSession) -> None:
    """pveproxy's authentication failures have no body, no Content-Length and close the connection."""
    bare = b"HTTP/1.1 401 No ticket\r\nServer: pve-api-daemon/3.0\r\nConnection: close\r\n\r\n"
    async with nodes(garbage(bare)) as (node,), gateway([node]) as base, client.get(base + VERSION) as resp:
        assert (resp.status, resp.reason, await resp.read()) == (401, "No ticket", b"")
        assert resp.headers["Server"] == "pve-api-daemon/3.0"


async def test_a_non_http_answer_to_a_get_is_retried_on_the_next_node(client: aiohttp.ClientSession) -> None:
    async with nodes(garbage(), answer()) as (bad, good), gateway([bad, good]) as base:
        assert (await get_json(client, base + VERSION))[0] == 200
        assert len(bad.requests) == len(good.requests) == 1


# ---- TLS trust --------------------------------------------------------------------------------------

async def test_a_pin_mismatch_is_502_and_no_request_is_sent(
    client: aiohttp.ClientSession, node_certificate: tuple[Path, Path, str]
) -> None:
    cert, key, _ = node_certificate
    async with nodes(answer(), tls=server_tls(str(cert), str(key))) as (node,), \
            gateway([node], fingerprints=[WRONG_PIN]) as base:
        async with client.post(base + START, data=b"", headers=FORM) as resp:
            body = await resp.json()
            assert resp.status == 502
        assert body["message"] == (f"upstream PVE unavailable (node tried) - {node.name}: "
                                   "TLS certificate does not match the pinned fingerprint\n")
        assert node.requests == []


@pytest.mark.parametrize("pins", ["right", "wrong-then-right"])
async def test_a_matching_pin_is_trusted(client: aiohttp.ClientSession, node_certificate: tuple[Path, Path, str],
                                         pins: str) -> None:
    cert, key, fingerprint = node_certificate
    fingerprints = [fingerprint] if pins == "right" else [WRONG_PIN, fingerprint.lower()]
    async with nodes(answer(), tls=server_tls(str(cert), str(key))) as (node,), \
            gateway([node], fingerprints=fingerprints) as base:
        assert (await get_json(client, base + VERSION))[0] == 200
        assert len(node.requests) == 1


async def test_a_self_signed_node_is_refused_by_default(
    client: aiohttp.ClientSession, node_certificate: tuple[Path, Path, str]
) -> None:
    cert, key, _ = node_certificate
    async with nodes(answer(), tls=server_tls(str(cert), str(key))) as (node,), gateway([node]) as base:
        status, _, body = await get_json(client, base + VERSION)
        assert status == 502
        assert f"{node.name}: TLS certificate not trusted" in body["message"]
        assert "self-signed certificate" in body["message"]
        assert node.requests == []


@pytest.mark.parametrize("trust", ["ca_file", "insecure"])
async def test_a_self_signed_node_is_trusted_when_told(
    client: aiohttp.ClientSession, node_certificate: tuple[Path, Path, str], trust: str
) -> None:
    cert, key, _ = node_certificate
    options: dict[str, Any] = {"ca_file": str(cert)} if trust == "ca_file" else {"insecure": True}
    async with nodes(answer(), tls=server_tls(str(cert), str(key))) as (node,), gateway([node], **options) as base:
        assert (await get_json(client, base + VERSION))[0] == 200
        assert len(node.requests) == 1


# ---- secrets stay out of the log --------------------------------------------------------------------

SECRET_TOKEN = "SECRET-UUID"
SECRET_PASSWORD = "hunter2"


@pytest.mark.parametrize("failure", ["refused", "stall", "garbage", "reset"])
async def test_no_secret_reaches_the_log_when_a_node_fails(caplog: pytest.LogCaptureFixture, failure: str) -> None:
    event = asyncio.Event()
    responders = {
        "refused": None,
        "stall": stall(event),
        "garbage": garbage(),
        "reset": reset_mid_body(event, pve_json({"ticket": "z" * 5000}), 100),
    }
    headers = {"Authorization": f"PVEAPIToken=root@pam!t={SECRET_TOKEN}"}
    url = f"{TICKET}?username=root@pam&password={SECRET_PASSWORD}"
    with caplog.at_level(logging.DEBUG, logger="pvegateway"):
        async with nodes(responders[failure]) as (node,), gateway([node], read_timeout=READ_TIMEOUT) as base, \
                aiohttp.ClientSession(headers=headers) as session:
            async with session.post(base + url, data=b"", headers=FORM) as resp:
                if failure == "reset":
                    assert resp.status == 200
                    event.set()
                    with pytest.raises(aiohttp.ClientPayloadError):
                        await resp.read()
                else:
                    assert resp.status in (502, 503, 504)
                    text = await resp.text()
                    assert SECRET_TOKEN not in text and SECRET_PASSWORD not in text
            if failure != "refused":
                assert node.requests[0].headers["authorization"].endswith(SECRET_TOKEN)  # it was really sent
    gateway_records = [r for r in caplog.records if r.name.startswith("pvegateway")]
    assert gateway_records, "the failure should have been logged"
    for record in caplog.records:
        text = record.getMessage() + str(record.exc_info or "") + str(record.exc_text or "")
        assert SECRET_TOKEN not in text
        assert SECRET_PASSWORD not in text
    assert SECRET_TOKEN not in caplog.text and SECRET_PASSWORD not in caplog.text
