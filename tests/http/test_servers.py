"""``serve`` as operators run it: hypercorn's HTTP/2, pre-fork workers, and stopping on SIGTERM.

Each test runs the real command line in a subprocess on a port the system picks and reads its
readiness lines; nothing sleeps to wait for state.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import select
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pvegateway.testing import running_mock
from tests.hostile.wire import client_hello_start, cut, wait_read

APIDOC = "9.1.11"


class Served:
    """A ``pvegateway serve`` subprocess: its base URL, certificate, and output lines."""

    def __init__(self, args: list[str], state_dir: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pvegateway", "serve", "--port", "0", "--apidoc", APIDOC,
             "--state-dir", str(state_dir), *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        first = self.line()
        found = re.search(r"listening on (https?://127\.0\.0\.1:(\d+))/api2/json", first)
        assert found, first
        self.url, self.port = found[1], int(found[2])
        self.cert = str(state_dir / "pvegateway.pem")
        https = self.url.startswith("https")
        self.trust = ssl.create_default_context(cafile=self.cert if https else None)
        if https:
            assert self.cert in self.line()

    def line(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline()

    def error_line_with(self, text: str) -> str:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            if text in line:
                return line
        raise AssertionError(f"the server ended without logging {text!r}")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


@contextlib.contextmanager
def served(args: list[str], state_dir: Path) -> Iterator[Served]:
    server = Served(args, state_dir)
    try:
        yield server
    finally:
        server.close()


def _login(client: httpx.Client, url: str) -> str:
    answer = client.post(f"{url}/api2/json/access/ticket", data={"username": "root@pam", "password": "pvegateway"})
    assert answer.status_code == 200
    ticket: str = answer.json()["data"]["ticket"]
    return ticket


def test_hypercorn_serves_http2_over_tls_and_http1(tmp_path: Path) -> None:
    with served(["--mode", "mock", "--server", "hypercorn"], tmp_path) as server, \
            httpx.Client(http2=True, verify=server.trust) as h2:
        cookie = {"Cookie": f"PVEAuthCookie={_login(h2, server.url)}"}
        version = h2.get(f"{server.url}/api2/json/version", headers=cookie)
        assert version.http_version == "HTTP/2"
        assert version.status_code == 200 and version.json()["data"]["release"]
        assert version.headers.get_list("server") == ["pve-api-daemon/3.0"]  # PVE's, no hypercorn banner
        refused = h2.get(f"{server.url}/api2/json/version")
        assert refused.http_version == "HTTP/2" and refused.status_code == 401
        assert refused.content == b""  # PVE answers 401 with an empty body
        bad = h2.get(f"{server.url}/api2/json/nodes/pve1/qemu/abc/status/current", headers=cookie)
        assert bad.status_code == 400 and bad.json()["errors"]["vmid"]

        with httpx.Client(verify=server.trust) as h1:
            version = h1.get(f"{server.url}/api2/json/version", headers=cookie)
            assert version.http_version == "HTTP/1.1"
            assert version.status_code == 200 and version.json()["data"]["release"]


# --- pre-fork workers ---------------------------------------------------------------------------------


def _children(parent: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                # the command may contain spaces and parentheses: the fields after its last ')' are plain
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == parent:
                    found.add(int(entry.name))
    return found


def _socket_inodes(pid: int) -> set[int]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(int(target[8:-1]))
    return inodes


def _server_sides(port: int, client_ports: set[int]) -> dict[int, int]:
    """inode of the server's end of each of our connections to ``port``: client port -> inode."""
    sides = {}
    for row in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = row.split()
        local_port, remote_port = int(fields[1].split(":")[1], 16), int(fields[2].split(":")[1], 16)
        if local_port == port and remote_port in client_ports:
            sides[remote_port] = int(fields[9])
    return sides


def test_proxy_workers_share_the_socket_restart_and_stop(tmp_path: Path) -> None:
    with running_mock(tls=True, state_dir=tmp_path / "upstream", apidoc=APIDOC) as mock:
        assert mock.fingerprint is not None
        args = ["--mode", "proxy", "--upstream", mock.url, "--fingerprint", mock.fingerprint, "--workers", "2",
                "--no-access-log"]  # stdout: only the status lines this test reads
        with served(args, tmp_path) as server:
            ready = server.line()
            assert "2 workers serving" in ready
            workers = {int(pid) for pid in re.findall(r"\d+", ready.split("pids", 1)[1])}
            assert workers == _children(server.proc.pid)

            # 50 requests, each on its own connection, all kept open so /proc shows who accepted which
            context = server.trust
            connections = []
            try:
                for _ in range(50):
                    conn = context.wrap_socket(socket.create_connection(("127.0.0.1", server.port)),
                                               server_hostname="127.0.0.1")
                    connections.append(conn)
                    conn.sendall(b"GET /api2/json/version HTTP/1.1\r\nHost: gw\r\n\r\n")
                    head = conn.recv(65536)
                    assert head.startswith(b"HTTP/1.1 401 No ticket\r\n")  # the node's answer, relayed
                sides = _server_sides(server.port, {conn.getsockname()[1] for conn in connections})
                assert len(sides) == 50
                served_by = {pid: len(_socket_inodes(pid) & set(sides.values())) for pid in workers}
                assert sum(served_by.values()) == 50
                assert all(count > 0 for count in served_by.values()), served_by
            finally:
                for conn in connections:
                    conn.close()

            # a worker that dies is replaced; the others go on serving
            victim = min(workers)
            os.kill(victim, signal.SIGKILL)
            assert f"worker {victim} exited unexpectedly (signal 9)" in server.error_line_with("exited")
            replaced = server.line()
            assert "replacing one that exited" in replaced
            workers = workers - {victim} | {int(re.findall(r"worker (\d+)", replaced)[0])}
            assert workers == _children(server.proc.pid)
            with httpx.Client(verify=server.trust) as client:
                assert client.get(f"{server.url}/api2/json/version").status_code == 401

            server.proc.send_signal(signal.SIGTERM)
            assert server.proc.wait(timeout=15) == 0
            for pid in workers:
                with pytest.raises(ProcessLookupError):
                    os.kill(pid, 0)
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", server.port)).close()


def test_mock_still_refuses_several_workers(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pvegateway", "serve", "--workers", "2", "--state-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2 and "several workers would each get their own cluster" in result.stderr


# --- stopping -----------------------------------------------------------------------------------------


class HeldUpstream:
    """A node that answers only when the test says so: a request held in flight at the gateway."""

    def __init__(self) -> None:
        self.arrived = asyncio.Event()
        self.release = asyncio.Event()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        self.arrived.set()
        await self.release.wait()
        body = b'{"data":{"release":"9.1","version":"9.1.11","repoid":"held"}}'
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json;charset=UTF-8\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()
        writer.close()


async def _idle_tls_client(port: int, cert: str, request: bool) -> asyncio.StreamWriter:
    """A keep-alive TLS client that then goes quiet: it never answers the server's close_notify."""
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=ssl.create_default_context(cafile=cert), server_hostname="127.0.0.1")
    if request:  # one the gateway refuses itself (the proxy's 400, the mock's 401): no node is asked
        writer.write(b"GET /api2/json/nodes/pve1/qemu/abc/status/current HTTP/1.1\r\nHost: gw\r\n\r\n")
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(re.findall(rb"(?i)content-length: *(\d+)", head)[0])
        await reader.readexactly(length)
        assert head.startswith((b"HTTP/1.1 400 ", b"HTTP/1.1 401 ")), head
    return writer


async def test_sigterm_drains_requests_in_flight_and_refuses_new_ones(tmp_path: Path) -> None:
    upstream = HeldUpstream()
    node = await asyncio.start_server(upstream.handle, "127.0.0.1", 0)
    node_port = node.sockets[0].getsockname()[1]
    args = ["--mode", "proxy", "--upstream", f"http://127.0.0.1:{node_port}", "--log-level", "info"]
    server = await asyncio.to_thread(Served, args, tmp_path)
    idle = []
    try:
        async with httpx.AsyncClient(verify=server.trust) as client:
            idle = [await _idle_tls_client(server.port, server.cert, request) for request in (False, True)]
            in_flight = asyncio.create_task(client.get(f"{server.url}/api2/json/version"))
            await upstream.arrived.wait()
            server.proc.send_signal(signal.SIGTERM)
            stopping = await asyncio.to_thread(server.error_line_with, "stopping")
            assert "1 request(s) in flight" in stopping, stopping
            with pytest.raises(ConnectionRefusedError):
                await asyncio.open_connection("127.0.0.1", server.port)
            assert server.proc.poll() is None  # still draining

            upstream.release.set()
            answer = await in_flight
            released = time.monotonic()
            assert answer.status_code == 200 and answer.json()["data"]["repoid"] == "held"
            assert answer.headers["connection"] == "close"
            status = await asyncio.to_thread(server.proc.wait, 10)
            assert status == 0
            assert time.monotonic() - released < 2  # the idle TLS clients do not hold the exit
    finally:
        for writer in idle:
            writer.transport.abort()
        server.close()
        node.close()
        await node.wait_closed()


async def test_idle_tls_clients_do_not_delay_the_exit(tmp_path: Path) -> None:
    server = await asyncio.to_thread(Served, ["--mode", "mock"], tmp_path)
    idle = []
    try:
        idle = [await _idle_tls_client(server.port, server.cert, request) for request in (False, True, True)]
        stopped = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(server.proc.wait, 10) == 0
        assert time.monotonic() - stopped < 2  # was the SSL shutdown timeout: 30 s
    finally:
        for writer in idle:
            writer.transport.abort()
        server.close()


async def test_shutdown_timeout_bounds_the_drain(tmp_path: Path) -> None:
    """A request that outlives ``--shutdown-timeout`` is cut off; the process still exits 0."""
    upstream = HeldUpstream()
    node = await asyncio.start_server(upstream.handle, "127.0.0.1", 0)
    args = ["--mode", "proxy", "--upstream", f"http://127.0.0.1:{node.sockets[0].getsockname()[1]}",
            "--shutdown-timeout", "0.5", "--http"]
    server = await asyncio.to_thread(Served, args, tmp_path)
    try:
        async with httpx.AsyncClient() as client:
            in_flight = asyncio.create_task(client.get(f"{server.url}/api2/json/version"))
            await upstream.arrived.wait()
            stopped = time.monotonic()
            server.proc.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(server.proc.wait, 10) == 0
            assert 0.5 <= time.monotonic() - stopped < 3
            with pytest.raises(httpx.RemoteProtocolError):
                await in_flight
    finally:
        upstream.release.set()
        server.close()
        node.close()
        await node.wait_closed()


def test_no_log_carries_a_query_string_even_at_info(tmp_path: Path) -> None:
    """uvicorn's own access log would print ``?password=...``; the gateway's logs the path template only."""
    command = [sys.executable, "-m", "pvegateway", "serve", "--http", "--port", "0", "--log-level", "info",
               "--state-dir", str(tmp_path)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None
        found = re.search(r"listening on (http://\S+/api2/json)", proc.stdout.readline())
        assert found
        url = found.group(1) + "/access/ticket?username=root@pam&password=hunter2-in-the-query"
        with urllib.request.urlopen(url, timeout=10) as answer:
            assert answer.status == 200
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    assert "hunter2" not in out + err
    assert '"path":"/access/ticket","status":200' in out


# --- silent clients -----------------------------------------------------------------------------------


def _seconds_until_closed(socks: list[socket.socket], limit: float) -> list[float]:
    """How long after now each socket's peer ends the connection (EOF or reset); ``limit`` if it does not."""
    started = time.monotonic()
    ended: dict[socket.socket, float] = {}
    while len(ended) < len(socks) and time.monotonic() - started < limit:
        waiting = [sock for sock in socks if sock not in ended]
        for sock in select.select(waiting, [], [], 0.1)[0]:
            try:
                data = sock.recv(4096)
            except ConnectionResetError:
                data = b""
            assert data == b"", data  # a silent client gets nothing, not even an alert or an answer
            ended[sock] = time.monotonic() - started
    return [ended.get(sock, limit) for sock in socks]


def test_silent_tls_clients_are_dropped_after_the_head_timeout(tmp_path: Path) -> None:
    """pveproxy's 5 s inactivity timeout covers the TLS handshake (AnyEvent.pm 1977, 2002, 2109). The
    gateway's TLS listener waited 60 s (asyncio's handshake timeout) before its head timer even started,
    so about 1,000 silent connections exhausted a 1,024-descriptor limit for a minute."""
    with served(["--mode", "mock"], tmp_path / "uvicorn") as uvicorn_server, \
            served(["--mode", "mock", "--server", "hypercorn"], tmp_path / "hypercorn") as hypercorn_server:
        socks = []
        try:
            for server in (uvicorn_server, hypercorn_server):
                silent = socket.create_connection(("127.0.0.1", server.port))
                hello = socket.create_connection(("127.0.0.1", server.port))
                hello.sendall(client_hello_start())
                socks += [silent, hello]
            closed = _seconds_until_closed(socks, 15.0)
        finally:
            for sock in socks:
                sock.close()
    assert all(4.5 < seconds < 6.5 for seconds in closed), closed


# --- requests cut short -------------------------------------------------------------------------------


def _acl_of(client: httpx.Client, url: str, headers: dict[str, str], userid: str) -> list[dict[str, object]]:
    answer = client.get(f"{url}/api2/json/access/acl", headers=headers)
    assert answer.status_code == 200
    return [entry for entry in answer.json()["data"] if entry["ugid"] == userid]


@pytest.mark.parametrize(("mode", "listener", "how"), [
    ("mock", "http", "close"), ("mock", "tls", "reset"), ("proxy", "tls", "reset"),
])
def test_a_cut_revoke_runs_nothing_under_hypercorn(tmp_path: Path, mode: str, listener: str, how: str) -> None:
    """The review's cut ACL revoke (HIGH-1) under ``--server hypercorn``: the body that arrived without
    its ``&delete=1`` would grant Administrator; it must not run. The access log says when the gateway is
    done with it (status 0: no answer)."""
    revoke = b"path=/&users=victim@pve&roles=Administrator&delete=1"
    with contextlib.ExitStack() as stack:
        args = ["--mode", mode, "--server", "hypercorn"] + (["--http"] if listener == "http" else [])
        password = "pvegateway"
        if mode == "proxy":
            node = stack.enter_context(running_mock(tls=True, state_dir=tmp_path / "node", apidoc=APIDOC))
            args += ["--upstream", node.url, "--ca", str(node.verify)]
            password = node.password
        server = stack.enter_context(served(args, tmp_path))
        client = stack.enter_context(httpx.Client(verify=server.trust))
        answer = client.post(f"{server.url}/api2/json/access/ticket",
                             data={"username": "root@pam", "password": password})
        ticket = answer.json()["data"]
        root = {"Cookie": f"PVEAuthCookie={ticket['ticket']}", "CSRFPreventionToken": ticket["CSRFPreventionToken"]}
        created = client.post(f"{server.url}/api2/json/access/users", data={"userid": "victim@pve"}, headers=root)
        assert created.status_code == 200

        sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        if listener == "tls":
            sock = server.trust.wrap_socket(sock, server_hostname="127.0.0.1")
        sock.sendall(f"PUT /api2/json/access/acl HTTP/1.1\r\nHost: gw\r\nCookie: {root['Cookie']}\r\n"
                     f"CSRFPreventionToken: {root['CSRFPreventionToken']}\r\n"
                     f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(revoke)}\r\n\r\n"
                     .encode() + revoke[:revoke.index(b"&delete=1")])
        wait_read(sock)
        cut(sock, how)
        while (logged := json.loads(server.line()))["method"] != "PUT":
            pass
        assert logged["status"] == 0
        assert _acl_of(client, server.url, root, "victim@pve") == []
