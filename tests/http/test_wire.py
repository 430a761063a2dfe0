"""The gateway on the wire, over a real socket, as PVE's pveproxy answers (docs/WIRE.md sections 1-3)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import aiohttp
import pytest

from pvegateway.app import create_app
from tests.live import live_server


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    with live_server(create_app("9.2", "generic", send_reason=True)) as url:
        yield url


def raw_request(base: str, request: bytes) -> bytes:
    parts = urlsplit(base)
    with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while True:
            data = sock.recv(65536)
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks)


async def test_success_envelope_and_pve_headers(base: str) -> None:
    async with aiohttp.ClientSession() as session, session.get(f"{base}/api2/json/version") as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "application/json;charset=UTF-8"
        assert resp.headers["Server"] == "pve-api-daemon/3.0"
        assert resp.headers["Cache-Control"] == "max-age=0"
        # PVE sends both, equal; uvicorn refreshes its Date once a second
        date, expires = (parsedate_to_datetime(resp.headers[h]) for h in ("Date", "Expires"))
        assert abs((expires - date).total_seconds()) <= 1
        body = await resp.json()
        assert set(body) == {"data"}
        assert body["data"]["release"]


async def test_validation_error_reason_phrase_and_connection_close(base: str) -> None:
    async with aiohttp.ClientSession() as session, session.get(
        f"{base}/api2/json/nodes/pve1/qemu/100/rrddata", params={"timeframe": "decade"}
    ) as resp:
        assert resp.status == 400
        assert resp.reason == "Parameter verification failed."
        assert resp.headers["Connection"] == "close"
        body = await resp.json()
        assert body["data"] is None
        assert body["message"] == "Parameter verification failed.\n"
        assert body["errors"]["timeframe"].startswith("value 'decade' does not have a value in the enumeration")


async def test_unknown_path_is_501_not_implemented(base: str) -> None:
    async with aiohttp.ClientSession() as session, session.get(f"{base}/api2/json/foo/bar") as resp:
        assert resp.status == 501
        assert resp.reason == "Method 'GET /foo/bar' not implemented"
        assert await resp.json() == {"data": None, "message": "Method 'GET /foo/bar' not implemented"}


async def test_known_path_wrong_method_is_501(base: str) -> None:
    async with aiohttp.ClientSession() as session, session.delete(f"{base}/api2/json/version") as resp:
        assert resp.status == 501
        assert (await resp.json())["message"] == "Method 'DELETE /version' not implemented"


async def test_extjs_errors_are_200_with_success_0(base: str) -> None:
    async with aiohttp.ClientSession() as session, session.get(f"{base}/api2/extjs/nowhere") as resp:
        assert resp.status == 200
        body = await resp.json()
        assert body == {"data": None, "success": 0, "status": 501, "message": "Method 'GET /nowhere' not implemented"}


async def test_extjs_success_carries_success_1(base: str) -> None:
    async with aiohttp.ClientSession() as session, session.get(f"{base}/api2/extjs/version") as resp:
        body = await resp.json()
        assert body["success"] == 1
        assert "release" in body["data"]


async def test_api2_without_format_is_no_such_uri(base: str) -> None:
    async with aiohttp.ClientSession() as session, session.get(f"{base}/api2/") as resp:
        assert resp.status == 501
        assert resp.reason == "no such uri"
        assert await resp.text() == "no such uri"


async def test_unregistered_format_is_no_formatter(base: str) -> None:
    async with aiohttp.ClientSession() as session, session.get(f"{base}/api2/xml/version") as resp:
        assert resp.status == 501
        assert resp.reason == "no formatter for uri /version, xml"
        assert "Content-Type" not in resp.headers


async def test_get_with_body_is_rejected(base: str) -> None:
    async with aiohttp.ClientSession() as session, session.request(
        "DELETE", f"{base}/api2/json/pools/lab", data=b"x=1"
    ) as resp:
        assert resp.status == 501
        assert resp.reason == "Unexpected content for method 'DELETE'"


async def test_unknown_content_type_is_506(base: str) -> None:
    async with aiohttp.ClientSession() as session, session.post(
        f"{base}/api2/json/pools", data=b"<x/>", headers={"Content-Type": "text/xml"}
    ) as resp:
        assert resp.status == 506
        assert resp.reason == "upload 'Content-Type 'text/xml' not implemented"


async def test_body_over_512_kib_is_data_too_large(base: str) -> None:
    payload = b"comment=" + b"a" * (512 * 1024)
    async with aiohttp.ClientSession() as session, session.post(
        f"{base}/api2/json/pools", data=payload, headers={"Content-Type": "application/x-www-form-urlencoded"}
    ) as resp:
        assert resp.status == 501
        assert resp.reason == "for data too large"


def test_unknown_http_verb_is_501_not_available(base: str) -> None:
    answer = raw_request(base, b"PATCH /api2/json/version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 501 method 'PATCH' not available\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert body == b""
    assert b"content-type" not in head.lower()


def test_chunked_body_is_rejected(base: str) -> None:
    answer = raw_request(
        base,
        b"POST /api2/json/pools HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\nConnection: close\r\n\r\n"
        b"9\r\npoolid=ab\r\n0\r\n\r\n",
    )
    assert answer.startswith(b"HTTP/1.1 501 chunked transfer encoding not supported\r\n")


async def test_malformed_json_body_is_500_plain(base: str) -> None:
    async with aiohttp.ClientSession() as session, session.post(
        f"{base}/api2/json/pools", data=b"{nope", headers={"Content-Type": "application/json"}
    ) as resp:
        # JSON::XS's croak at pve-http-server's decode_json call (src/PVE/APIServer/AnyEvent.pm:934), plain text
        croak = ("'\"' expected, at character offset 1 (before \"nope\")"
                 " at /usr/share/perl5/PVE/APIServer/AnyEvent.pm line 934.")
        assert (resp.status, resp.reason, await resp.text()) == (500, croak, croak + "\n")
        assert "Content-Type" not in resp.headers


async def test_missing_item_is_500_does_not_exist(base: str) -> None:
    async with aiohttp.ClientSession() as session, session.get(f"{base}/api2/json/pools/nosuchpool") as resp:
        assert resp.status == 500
        assert "does not exist" in (resp.reason or "")


async def test_root_index_lists_top_level_paths(base: str) -> None:
    async with aiohttp.ClientSession() as session:
        for path in ("/api2/json", "/api2/json/"):
            async with session.get(f"{base}{path}") as resp:
                body = await resp.json()
                assert {item["subdir"] for item in body["data"]} == {
                    "access", "cluster", "nodes", "pools", "storage", "version"
                }


async def test_no_reason_header_leaks_when_the_server_cannot_use_it() -> None:
    import httpx

    app = create_app("9.2", "generic")  # embedded: send_reason defaults to off
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://pve") as client:
        response = await client.get("/api2/json/nowhere")
    assert response.status_code == 501
    assert not [name for name in response.headers if name.startswith("x-pvegateway")]


def test_listening_socket_turns_nagle_off() -> None:
    """asyncio disables Nagle only for IPPROTO_TCP sockets; with it on, keep-alive answers stall ~40 ms."""
    from pvegateway.http.listen import bind

    sock = bind("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    finally:
        sock.close()


async def _reasons(base: str) -> list[tuple[int, str]]:
    import asyncio

    async def one(path: str) -> tuple[int, str]:
        async with aiohttp.ClientSession() as session, session.get(f"{base}/api2/json{path}") as resp:
            return resp.status, resp.reason or ""

    paths = ["/nowhere", "/nodes/pve1/qemu/100/rrddata?timeframe=x", "/api2", "/version"] * 5
    return await asyncio.gather(*(one(p) for p in paths))


@pytest.mark.parametrize("protocol", ["httptools", "h11"])
async def test_each_response_gets_its_own_reason_under_both_protocols(protocol: str) -> None:
    from pvegateway.http._uvicorn import PVEH11Protocol, PVEHttpToolsProtocol

    chosen = PVEHttpToolsProtocol if protocol == "httptools" else PVEH11Protocol
    with live_server(create_app("9.2", "generic", send_reason=True), protocol=chosen) as url:
        results = await _reasons(url)
    expected = {
        501: {"Method 'GET /nowhere' not implemented", "Method 'GET /api2' not implemented"},
        400: {"Parameter verification failed."},
        200: {"OK"},
    }
    assert results and all(reason in expected[status] for status, reason in results), results
