"""Proxy mode against more ways a node fails: a killed process, TLS that never works, a name that does not
resolve, resets, many stalls at once, half a cluster gone. Each case answers within its timeout with a
PVE-shaped error, leaves no connection behind, and the gateway goes on serving.

"Leaves nothing behind" is measured, not assumed: after each fault the gateway's own loop reports its
pool (no connection busy, every slot free) and this process's open sockets towards the failing node
(``/proc/self/fd`` joined with ``/proc/net/tcp``): only kept-alive idle connections may remain. The
probe runs on the gateway's loop, after whatever it had already scheduled, so no clock is involved.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import os
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import aiohttp
import pytest

from pvegateway.app import Gateway, create_app
from pvegateway.backends.proxy import ProxyBackend
from pvegateway.backends.proxy.http1 import Usage
from pvegateway.testing_server import ThreadedServer

from .faulty import Request, answer, by_path, nodes, pve_json, reset_mid_body, server_tls, stall

VERSION = "/api2/json/version"
NODE_STATUS = "/api2/json/nodes/pve1/status"
START = "/api2/json/nodes/pve1/qemu/100/status/start"
AUTH = {"Authorization": "PVEAPIToken=root@pam!t=00000000-0000-0000-0000-000000000000"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
READ_TIMEOUT = 0.5
CONNECT_TIMEOUT = 0.5
SLACK = 1.0  # what a loaded CI machine may add to a timeout before the answer is in


# ---- the gateway, and what it holds ------------------------------------------------------------------

@dataclass
class Served:
    base: str
    app: Gateway
    server: ThreadedServer

    @property
    def backend(self) -> ProxyBackend:
        return cast(ProxyBackend, self.app.backend)

    def usage(self) -> list[Usage]:
        """Each upstream client's connections, read on the gateway's loop once what it had pending ran."""

        async def probe() -> list[Usage]:
            for _ in range(3):  # a transport's abort closes its socket one loop turn later
                await asyncio.sleep(0)
            return [upstream.client.usage() for upstream in self.backend.pool.upstreams]

        return asyncio.run_coroutine_threadsafe(probe(), self.server.loop).result(timeout=5)

    def assert_released(self, *ports: int) -> None:
        """Nothing busy, every slot back, and no socket towards ``ports`` beyond the idle ones kept."""
        usage = self.usage()
        limit = self.backend.options.pool_size
        assert [(u.busy, u.free) for u in usage] == [(0, limit)] * len(usage)
        assert sum(sockets_to(port) for port in ports) <= sum(u.idle for u in usage)


@contextlib.contextmanager
def gateway(upstreams: Sequence[str], **options: Any) -> Iterator[Served]:
    options.setdefault("connect_timeout", CONNECT_TIMEOUT)
    options.setdefault("read_timeout", READ_TIMEOUT)
    app = create_app(None, "proxy", send_reason=True, upstreams=list(upstreams), **options)
    server = ThreadedServer(app)
    server.start()
    try:
        yield Served(f"http://127.0.0.1:{server.port}", app, server)
    finally:
        server.close()


def sockets_to(port: int) -> int:
    """This process's open TCP sockets whose peer is 127.0.0.1:``port`` (the gateway's side of them)."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            link = os.readlink(f"/proc/self/fd/{fd}")
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[2].split(":")[1], 16) == port and fields[9] in inodes:
            count += 1
    return count


def socket_fds() -> int:
    """All of this process's open sockets."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
    return count


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    # one connection per request: the gateway's sockets towards this client do not stay open either
    async with aiohttp.ClientSession(headers=AUTH, connector=aiohttp.TCPConnector(force_close=True)) as session:
        yield session


async def fetch(client: aiohttp.ClientSession, url: str, method: str = "GET") -> tuple[int, str, Any, float]:
    started = time.monotonic()
    async with client.request(method, url, data=b"" if method == "POST" else None,
                              headers=FORM if method == "POST" else None) as resp:
        body = await resp.json()
        return resp.status, resp.reason or "", body, time.monotonic() - started


def unavailable(*reasons: str) -> str:
    """The gateway's message when no node answered: each node tried, and why."""
    noun = "node" if len(reasons) == 1 else f"{len(reasons)} nodes"
    return f"upstream PVE unavailable ({noun} tried) - {'; '.join(reasons)}"


async def assert_still_serving(client: aiohttp.ClientSession, served: Served, count: int = 10) -> None:
    answers = await asyncio.gather(*(fetch(client, served.base + VERSION) for _ in range(count)))
    assert [status for status, *_ in answers] == [200] * count


# ---- a node process killed mid-request ---------------------------------------------------------------

# A node in a process of its own: prints its port, then for each request prints the path it got and
# answers (/version, on a kept-alive connection), sends headers and half a body (/status) or says nothing
# (the rest), and then hangs until killed.
KILLABLE = r"""
import socket, sys, threading
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(64)
print(listener.getsockname()[1], flush=True)

def serve(conn):
    data = b""
    while True:
        while b"\r\n\r\n" not in data:
            more = conn.recv(65536)
            if not more:
                return
            data += more
        head, data = data.split(b"\r\n\r\n", 1)
        path = head.split(b" ", 2)[1].split(b"?")[0]
        if path == b"/api2/json/version":
            body = b'{"data":{"version":"9.2.0"}}'
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json;charset=UTF-8\r\n"
                         b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        elif path == b"/api2/json/nodes/pve1/status":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json;charset=UTF-8\r\n"
                         b"Content-Length: 10000\r\n\r\n" + b"x" * 5000)
        print(path.decode(), flush=True)
        if path != b"/api2/json/version":
            threading.Event().wait()

while True:
    conn, _ = listener.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
"""


@contextlib.asynccontextmanager
async def killable() -> AsyncIterator[tuple[subprocess.Popen[str], int]]:
    proc = subprocess.Popen([sys.executable, "-c", KILLABLE], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    try:
        yield proc, int(await asyncio.to_thread(proc.stdout.readline))
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()


async def reached(proc: subprocess.Popen[str]) -> str:
    """The path of the next request the node process got (it prints it once it has answered what it will)."""
    assert proc.stdout is not None
    return (await asyncio.to_thread(proc.stdout.readline)).strip()


async def test_a_node_killed_before_answering_a_post_is_a_quick_502(client: aiohttp.ClientSession) -> None:
    async with killable() as (proc, port):
        with gateway([f"http://127.0.0.1:{port}"], read_timeout=30) as served:
            name = f"127.0.0.1:{port}"
            assert (await fetch(client, served.base + VERSION))[0] == 200
            assert await reached(proc) == VERSION
            pending = asyncio.ensure_future(fetch(client, served.base + START, "POST"))
            assert await reached(proc) == START
            before = socket_fds()
            os.kill(proc.pid, signal.SIGKILL)
            status, reason, body, elapsed = await pending
            assert (status, reason) == (502, unavailable(f"{name}: connection closed before an answer"))
            assert body == {"data": None, "message": reason + "\n"}
            assert elapsed < 30  # the kill ended it, not the read timeout
            served.assert_released(port)
            assert socket_fds() < before
            # the node is gone for good now: the next caller hears so at once
            status, reason, _, elapsed = await fetch(client, served.base + VERSION)
            assert (status, reason) == (503, unavailable(f"{name}: cannot connect (Connection refused)"))
            served.assert_released(port)


async def test_a_node_killed_mid_request_leaves_a_get_to_the_others(client: aiohttp.ClientSession) -> None:
    async with killable() as (proc, port), nodes(answer()) as (other,):
        with gateway([f"http://127.0.0.1:{port}", other.url], read_timeout=30) as served:
            pending = asyncio.ensure_future(fetch(client, served.base + "/api2/json/cluster/resources"))
            assert await reached(proc) == "/api2/json/cluster/resources"
            os.kill(proc.pid, signal.SIGKILL)
            status, _, body, elapsed = await pending
            assert (status, body["data"]["path"]) == (200, "/api2/json/cluster/resources")
            assert elapsed < 30
            served.assert_released(port, other.port)
            await assert_still_serving(client, served)
            assert len(other.requests) == 11


async def test_a_node_killed_mid_body_cuts_the_answer_short(client: aiohttp.ClientSession) -> None:
    async with killable() as (proc, port):
        with gateway([f"http://127.0.0.1:{port}"], read_timeout=30) as served:
            async with client.get(served.base + NODE_STATUS) as resp:
                assert (resp.status, resp.headers["Content-Length"]) == (200, "10000")
                assert await reached(proc) == NODE_STATUS
                os.kill(proc.pid, signal.SIGKILL)
                with pytest.raises(aiohttp.ClientPayloadError):
                    await resp.read()
            served.assert_released(port)


# ---- many stalls at once -----------------------------------------------------------------------------

async def test_many_stalled_requests_all_time_out_and_free_their_connections(
    client: aiohttp.ClientSession,
) -> None:
    release = asyncio.Event()
    async with nodes(by_path({NODE_STATUS: stall(release)}, answer())) as (node,):
        with gateway([node.url]) as served:
            started = time.monotonic()
            stalled = [asyncio.ensure_future(fetch(client, served.base + NODE_STATUS)) for _ in range(50)]
            await node.wait_requests(50)
            # while all fifty hang, other callers are answered
            await assert_still_serving(client, served)
            assert not any(s.done() for s in stalled)
            answers = await asyncio.gather(*stalled)
            assert time.monotonic() - started < READ_TIMEOUT + SLACK
            message = unavailable(f"{node.name}: read timed out")
            assert {(status, reason) for status, reason, *_ in answers} == {(504, message)}
            served.assert_released(node.port)
            release.set()
            await assert_still_serving(client, served)


async def test_stalled_requests_beyond_the_pool_fail_over_instead_of_queueing(
    client: aiohttp.ClientSession,
) -> None:
    """A node whose every connection hangs is full: the next callers go to another node at once."""
    release = asyncio.Event()
    async with nodes(by_path({NODE_STATUS: stall(release)}, answer()), answer()) as (busy, other):
        with gateway([busy.url, other.url], pool_size=4, read_timeout=30) as served:
            stalled = [asyncio.ensure_future(fetch(client, served.base + NODE_STATUS)) for _ in range(4)]
            await busy.wait_requests(4)
            status, _, body, elapsed = await fetch(client, served.base + VERSION)
            assert (status, body["data"]["path"]) == (200, VERSION)
            assert elapsed < CONNECT_TIMEOUT + SLACK
            assert len(other.requests) == 1
            release.set()  # the hanging node hangs up: a GET goes again, to the other node
            assert {status for status, *_ in await asyncio.gather(*stalled)} == {200}
            assert len(other.requests) == 5
            served.assert_released(busy.port, other.port)


# ---- TLS that does not work out ----------------------------------------------------------------------

def _certificate(directory: Path, name: str, *, expired: bool = False, host: str | None = None) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 (or only for ``host``), expired if asked."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"pve-{name}")])
    now = datetime.datetime.now(datetime.UTC)
    validity = (now - datetime.timedelta(days=30), now - datetime.timedelta(days=1)) if expired else \
        (now - datetime.timedelta(days=1), now + datetime.timedelta(days=30))
    alt: list[x509.GeneralName] = [x509.DNSName(host)] if host else \
        [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(validity[0]).not_valid_after(validity[1])
            .add_extension(x509.SubjectAlternativeName(alt), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / f"{name}.pem", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


@pytest.fixture(scope="module")
def bad_certificates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, str]]:
    directory = tmp_path_factory.mktemp("bad-tls")
    return {"expired": _certificate(directory, "expired", expired=True),
            "wrong-host": _certificate(directory, "wrong-host", host="pve9.example.com")}


@pytest.mark.parametrize(("which", "why"), [
    ("expired", "TLS certificate not trusted (certificate has expired)"),
    ("wrong-host", "TLS certificate not trusted (IP address mismatch, certificate is not valid for '127.0.0.1'.)"),
])
async def test_a_certificate_that_fails_verification_is_502_and_nothing_is_sent(
    client: aiohttp.ClientSession, bad_certificates: dict[str, tuple[str, str]], which: str, why: str,
) -> None:
    cert, key = bad_certificates[which]
    async with nodes(answer(), tls=server_tls(cert, key)) as (node,):
        with gateway([node.url], ca_file=cert) as served:
            status, reason, body, elapsed = await fetch(client, served.base + START, "POST")
            assert (status, reason) == (502, unavailable(f"{node.name}: {why}"))
            assert body == {"data": None, "message": reason + "\n"}
            assert elapsed < CONNECT_TIMEOUT + SLACK
            assert node.requests == []
            served.assert_released(node.port)


async def test_a_node_that_never_completes_the_handshake_is_a_connect_timeout(
    client: aiohttp.ClientSession, node_certificate: tuple[Path, Path, str],
) -> None:
    """The kernel accepts the TCP connection (a listening socket nobody accepts from), TLS never starts."""
    with socket.socket() as mute:
        mute.bind(("127.0.0.1", 0))
        mute.listen(64)
        port = mute.getsockname()[1]
        async with nodes(answer()) as (other,):
            with gateway([f"https://127.0.0.1:{port}", other.url], insecure=True) as served:
                requests = [fetch(client, served.base + START, "POST") for _ in range(10)]
                answers = await asyncio.gather(*requests)
                # nothing was sent, so even a POST goes to the next node, after the connect timeout
                assert [status for status, *_ in answers] == [200] * 10
                assert max(elapsed for *_, elapsed in answers) < CONNECT_TIMEOUT + SLACK
                assert len(other.requests) == 10
                served.assert_released(port, other.port)
            with gateway([f"https://127.0.0.1:{port}"], insecure=True) as served:
                status, reason, _, elapsed = await fetch(client, served.base + VERSION)
                assert (status, reason) == (504, unavailable(f"127.0.0.1:{port}: connect timed out"))
                assert CONNECT_TIMEOUT <= elapsed < CONNECT_TIMEOUT + SLACK
                served.assert_released(port)


@contextlib.asynccontextmanager
async def speaking_first(data: bytes) -> AsyncIterator[int]:
    """A plain TCP server that sends ``data`` as soon as a connection comes in, then hangs up."""

    async def greet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(data)
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(greet, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize("data", [
    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",  # http:// on that port
    b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n",
])
async def test_a_node_that_does_not_speak_tls_is_named_as_such(client: aiohttp.ClientSession, data: bytes) -> None:
    async with speaking_first(data) as port:
        with gateway([f"https://127.0.0.1:{port}"], insecure=True) as served:
            status, reason, body, elapsed = await fetch(client, served.base + VERSION)
            assert (status, reason) == (502, unavailable(
                f"127.0.0.1:{port}: TLS handshake failed (WRONG_VERSION_NUMBER: the node does not speak TLS)"))
            assert body["message"] == reason + "\n"
            assert elapsed < CONNECT_TIMEOUT + SLACK
            served.assert_released(port)


# ---- names that do not resolve -----------------------------------------------------------------------

async def test_a_name_that_does_not_resolve_is_a_quick_clear_503(client: aiohttp.ClientSession) -> None:
    with pytest.raises(socket.gaierror) as resolving:
        socket.getaddrinfo("does-not-exist.invalid", 8006)
    with gateway(["https://does-not-exist.invalid:8006"], connect_timeout=5.0) as served:
        status, reason, body, elapsed = await fetch(client, served.base + VERSION)
        assert (status, reason) == (503, unavailable(
            f"does-not-exist.invalid:8006: cannot connect ({resolving.value.strerror})"))
        assert "Errno" not in reason
        assert body == {"data": None, "message": reason + "\n"}
        assert elapsed < 5.0
        served.assert_released()


# ---- resets ------------------------------------------------------------------------------------------

async def reset_at_once(request: Request, writer: asyncio.StreamWriter) -> bool:
    """The request read, then RST (SO_LINGER 0) without a byte of answer."""
    writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
    return False


@contextlib.asynccontextmanager
async def resetting_on_accept() -> AsyncIterator[int]:
    """A server that resets every connection as soon as it has accepted it."""

    async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    server = await asyncio.start_server(reset, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


async def test_a_reset_right_after_accept_sends_a_post_to_the_next_node(client: aiohttp.ClientSession) -> None:
    """Over TLS the handshake is where the reset lands: nothing was sent, so any method fails over."""
    async with resetting_on_accept() as port, nodes(answer()) as (other,):
        with gateway([f"https://127.0.0.1:{port}", other.url], insecure=True) as served:
            status, _, body, _ = await fetch(client, served.base + START, "POST")
            assert (status, body["data"]["method"]) == (200, "POST")
            served.assert_released(port, other.port)
        with gateway([f"https://127.0.0.1:{port}"], insecure=True) as served:
            status, reason, _, _ = await fetch(client, served.base + START, "POST")
            why = "cannot connect (Connection reset by peer)"
            assert (status, reason) == (503, unavailable(f"127.0.0.1:{port}: {why}"))
            served.assert_released(port)


async def test_a_reset_once_the_request_is_read_is_502_for_a_post(client: aiohttp.ClientSession) -> None:
    async with nodes(reset_at_once, answer()) as (resetting, other):
        with gateway([resetting.url, other.url]) as served:
            status, reason, _, elapsed = await fetch(client, served.base + START, "POST")
            assert (status, reason) == (502, unavailable(f"{resetting.name}: connection closed before an answer"))
            assert elapsed < READ_TIMEOUT
            assert other.requests == []  # it may have run on the node: never sent twice
            # a GET is safe to send again, to the other node
            status, _, body, _ = await fetch(client, served.base + VERSION)
            assert (status, body["data"]["path"]) == (200, VERSION)
            served.assert_released(resetting.port, other.port)


async def test_a_reset_right_after_the_headers_cuts_the_answer(client: aiohttp.ClientSession) -> None:
    cut = asyncio.Event()
    cut.set()
    body = pve_json({"filler": "z" * 10000})
    async with nodes(by_path({NODE_STATUS: reset_mid_body(cut, body, 0)}, answer())) as (node,):
        with gateway([node.url]) as served:
            async with client.get(served.base + NODE_STATUS) as resp:
                assert (resp.status, resp.headers["Content-Length"]) == (200, str(len(body)))
                with pytest.raises(aiohttp.ClientPayloadError):
                    await resp.read()
            served.assert_released(node.port)
            await assert_still_serving(client, served)


# ---- half a cluster down -----------------------------------------------------------------------------

async def test_half_the_cluster_down_costs_one_timeout_then_nothing(client: aiohttp.ClientSession) -> None:
    """Four nodes, one refusing and one hanging: every request succeeds; only the first one waits for the
    hanging node, which is then tried last (``down_for``) and gets no other request."""
    release = asyncio.Event()
    async with nodes(None, stall(release), answer(), answer()) as (refusing, hanging, first, second):
        with gateway([n.url for n in (refusing, hanging, first, second)], down_for=60) as served:
            status, _, _, elapsed = await fetch(client, served.base + VERSION)
            assert status == 200
            assert READ_TIMEOUT <= elapsed < READ_TIMEOUT + SLACK
            sequential = [await fetch(client, served.base + VERSION) for _ in range(20)]
            concurrent = await asyncio.gather(*(fetch(client, served.base + VERSION) for _ in range(40)))
            assert {status for status, *_ in sequential + concurrent} == {200}
            assert max(elapsed for *_, elapsed in sequential + concurrent) < READ_TIMEOUT
            assert (refusing.connections, len(hanging.requests)) == (0, 1)
            assert len(first.requests) + len(second.requests) == 61
            release.set()
            served.assert_released(hanging.port, first.port, second.port)


async def test_a_lone_node_with_every_connection_stalled_is_503_after_the_connect_timeout(
    client: aiohttp.ClientSession,
) -> None:
    release = asyncio.Event()
    async with nodes(by_path({NODE_STATUS: stall(release)}, answer())) as (node,):
        with gateway([node.url], pool_size=2, read_timeout=30) as served:
            stalled = [asyncio.ensure_future(fetch(client, served.base + NODE_STATUS)) for _ in range(2)]
            await node.wait_requests(2)
            status, reason, _, elapsed = await fetch(client, served.base + VERSION)
            assert (status, reason) == (503, unavailable(f"{node.name}: no free connection (all 2 in use)"))
            assert CONNECT_TIMEOUT <= elapsed < CONNECT_TIMEOUT + SLACK
            release.set()  # the node hangs up on both: nothing else to try, so 502 each
            assert {status for status, *_ in await asyncio.gather(*stalled)} == {502}
            served.assert_released(node.port)
            await assert_still_serving(client, served)
