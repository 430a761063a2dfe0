"""Hostile request heads: header floods, silent clients, CR/LF and NUL smuggled into what the gateway
echoes. pveproxy drops an oversized head without a word (the client waits for its 5 s timeout); the
gateway answers 431 at once and closes. Nothing a request carries can end up as a header or status line.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from pvegateway.http._uvicorn import PVEHttpToolsProtocol
from pvegateway.statedir import certificate
from pvegateway.testing import PVEMock, mock_gateway
from tests.live import live_server

from .wire import Login, client_hello_start, exchange, request

pytestmark = pytest.mark.usefixtures("unchanged")

VERSION = "/api2/json/version"
TOO_LARGE = (431, b"Request Header Fields Too Large")


def alive(pve: PVEMock, root: Login) -> None:
    """The server still answers a normal request."""
    response = httpx.get(f"{pve.url}{VERSION}", headers=root.headers)
    assert response.status_code == 200


def padded(root: Login, lines: int) -> dict[str, str]:
    """``root``'s headers plus padding, so that the request has ``lines`` header lines in all."""
    base = {**root.headers}
    fixed = 2 + len(base)  # Host and Connection come from request()
    return {**base, **{f"X-Pad-{i}": "p" for i in range(lines - fixed)}}


@pytest.mark.parametrize("lines", [10, 62])
def test_up_to_62_header_lines_are_served(pve: PVEMock, root: Login, lines: int) -> None:
    reply = exchange(pve.port, request("GET", VERSION, headers=padded(root, lines)))
    assert reply.status == 200


@pytest.mark.parametrize("lines", [63, 64, 100, 1000])
def test_more_header_lines_than_pve_reads_are_431(pve: PVEMock, root: Login, lines: int) -> None:
    reply = exchange(pve.port, request("GET", VERSION, headers=padded(root, lines)))
    assert ((reply.status, reply.reason), reply.closed) == (TOO_LARGE, True)
    alive(pve, root)


def _sized(root: Login, total: int) -> dict[str, str]:
    """Headers whose lines (``name: value``, as pveproxy counts them) add up to ``total`` bytes."""
    headers = {"Host": "127.0.0.1", "Connection": "close", **root.headers}
    used = sum(len(k) + 2 + len(v) for k, v in headers.items())
    return {**root.headers, "X-Pad": "p" * (total - used - len("X-Pad: "))}


def test_headers_just_under_8_kib_are_served(pve: PVEMock, root: Login) -> None:
    assert exchange(pve.port, request("GET", VERSION, headers=_sized(root, 8191))).status == 200


@pytest.mark.parametrize("total", [8192, 9000, 60_000])
def test_headers_of_8_kib_and_more_are_431(pve: PVEMock, root: Login, total: int) -> None:
    reply = exchange(pve.port, request("GET", VERSION, headers=_sized(root, total)))
    assert ((reply.status, reply.reason), reply.closed) == (TOO_LARGE, True)
    alive(pve, root)


@pytest.mark.parametrize("size", [100_000, 4_000_000])
def test_an_endless_header_line_is_cut_short(pve: PVEMock, root: Login, size: int) -> None:
    """The server reads no more than 72 KiB of a head: it answers 431 and closes, and a client still
    sending may see the close as a reset. Either way it is prompt, and the server carries on."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", pve.port), timeout=5) as sock:
        head = request("GET", VERSION, headers=root.headers).removesuffix(b"\r\n")
        try:
            sock.sendall(head + b"X-Flood: " + b"a" * size)
            answer = sock.recv(200)
        except (ConnectionResetError, BrokenPipeError):
            answer = b""
    assert answer in (b"",) or answer.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
    assert time.monotonic() - started < 5
    alive(pve, root)


class _QuickHead(PVEHttpToolsProtocol):
    head_timeout = 0.2


@pytest.fixture(scope="module")
def quick() -> Iterator[int]:
    with live_server(mock_gateway(), protocol=_QuickHead) as url:
        yield urlsplit(url).port or 0


@pytest.mark.parametrize("sent", [b"", b"GET /api2/json/version HTTP/1.1\r\nHost: x\r\n", b"GET /api2/js"])
def test_a_head_that_never_completes_is_closed_not_held(quick: int, sent: bytes) -> None:
    """uvicorn waits for a head forever; the gateway closes after ``head_timeout`` (PVE: 5 s)."""
    with socket.create_connection(("127.0.0.1", quick), timeout=5) as sock:
        sock.sendall(sent)
        assert sock.recv(100) == b""  # closed (a hang would raise socket.timeout)


class _TimedTLSHead(PVEHttpToolsProtocol):
    head_timeout = 1.5


@pytest.fixture(scope="module")
def timed_tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, ssl.SSLContext]]:
    cert, key, _ = certificate(tmp_path_factory.mktemp("head-tls"))
    with live_server(mock_gateway(), certfile=str(cert), keyfile=str(key), protocol=_TimedTLSHead) as url:
        context = ssl.create_default_context(cafile=str(cert))
        context.check_hostname = False
        yield urlsplit(url).port or 0, context


def test_the_head_timeout_runs_from_accept_and_covers_the_tls_handshake(timed_tls: tuple[int, ssl.SSLContext]) -> None:
    """A client that finishes its handshake late gets the rest of ``head_timeout`` for its head, not
    ``head_timeout`` again: pveproxy's one 5 s timeout covers the handshake (AnyEvent.pm 1977, 2002).
    The waits are the timeout under test."""
    port, context = timed_tls
    timeout = _TimedTLSHead.head_timeout
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        time.sleep(timeout * 0.6)  # silent before the handshake: within the server's handshake timeout
        with context.wrap_socket(raw, server_hostname="127.0.0.1") as sock:
            assert sock.recv(100) == b""  # closed, not answered
    assert timeout * 0.9 < time.monotonic() - started < timeout * 1.4  # not 1.6 x: from accept


@pytest.mark.parametrize("sent", ["nothing", "half a ClientHello"])
def test_a_tls_handshake_that_never_completes_is_closed_after_the_head_timeout(
    timed_tls: tuple[int, ssl.SSLContext], sent: str,
) -> None:
    """It was asyncio's 60 s handshake timeout, and the head timer only started after the handshake."""
    port, _ = timed_tls
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        if sent != "nothing":
            sock.sendall(client_hello_start())
        with contextlib.suppress(ConnectionResetError):  # dropped mid-handshake: a reset is a close too
            assert sock.recv(100) == b""
    assert time.monotonic() - started < _TimedTLSHead.head_timeout * 1.4


@pytest.mark.parametrize("path", [
    "/api2/json/foo%0d%0aX-Injected:%201", "/api2/json/foo%0dX-Injected:%201",
    "/api2/json/foo%0d%0a%0d%0a<html>", "/api2/json/nodes%0d/pve1",
])
def test_a_cr_in_an_echoed_message_makes_pves_bodiless_400(pve: PVEMock, root: Login, path: str) -> None:
    """``501 Method 'GET /foo\\r...' not implemented`` cannot be a status line: pve-http-server turns it
    into ``400 Bad Request`` with an empty body (the gateway answered 501 and echoed the CR)."""
    reply = exchange(pve.port, request("GET", path, headers=root.headers))
    assert (reply.status, reply.reason, reply.body) == (400, b"Bad Request", b"")
    assert b"x-injected" not in reply.names()


def test_a_cr_in_an_echoed_message_stays_in_the_extjs_body(pve: PVEMock, root: Login) -> None:
    reply = exchange(pve.port, request("GET", "/api2/extjs/foo%0d%0aX-Injected:%201", headers=root.headers))
    assert (reply.status, reply.reason) == (200, b"OK")
    assert reply.json()["message"] == "Method 'GET /foo\r\nX-Injected: 1' not implemented"
    assert b"x-injected" not in reply.names()


def test_a_lf_ends_the_reason_phrase_and_injects_nothing(pve: PVEMock, root: Login) -> None:
    reply = exchange(pve.port, request("GET", "/api2/json/foo%0aX-Injected:%201", headers=root.headers))
    assert (reply.status, reply.reason) == (501, b"Method 'GET /foo")  # the message's first line, as PVE
    assert reply.json()["message"] == "Method 'GET /foo\nX-Injected: 1' not implemented"
    assert b"x-injected" not in reply.names()


@pytest.mark.parametrize("char", ["%00", "%07", "%1b", "%7f", "%0b", "%0c"])
def test_control_characters_never_reach_the_status_line(pve: PVEMock, root: Login, char: str) -> None:
    """The reason falls back to the standard phrase; the message keeps them, JSON-escaped."""
    reply = exchange(pve.port, request("GET", f"/api2/json/foo{char}bar", headers=root.headers))
    assert (reply.status, reply.reason) == (501, b"Not Implemented")
    assert reply.json()["message"].startswith("Method 'GET /foo")


@pytest.mark.parametrize("raw_value", [b"CSRF\r\nX-Injected: 1", b"a\x00b", b"\x7f"])
def test_control_bytes_in_a_request_header_are_refused_by_the_parser(
        pve: PVEMock, root: Login, raw_value: bytes) -> None:
    raw = request("POST", "/api2/json/nodes/pve1/qemu", headers={"Cookie": root.headers["Cookie"]},
                  raw_headers=b"CSRFPreventionToken: " + raw_value + b"\r\n", body=b"vmid=150",
                  content_type="application/x-www-form-urlencoded")
    reply = exchange(pve.port, raw)
    assert reply.status in (400, 401) and b"x-injected" not in reply.names()


@pytest.mark.parametrize("node", ["pve1%00", "pve1%0d%0aX-Injected:%201", "%00", "pve1%00.evil"])
def test_nul_and_crlf_in_a_path_parameter_fail_validation(pve: PVEMock, root: Login, node: str) -> None:
    reply = exchange(pve.port, request("GET", f"/api2/json/nodes/{node}/qemu", headers=root.headers))
    assert (reply.status, reply.reason) == (400, b"Parameter verification failed.")
    assert reply.json()["errors"] == {"node": "invalid format - value does not look like a valid node name\n"}
