"""Proxy mode: a request whose body is cut short is never forwarded as a complete one.

The gateway once forwarded what had arrived with a new, matching Content-Length, so the node ran a
shorter, valid request: a revoke cut before ``&delete=1`` granted Administrator. pveproxy dispatches a
body only once all of Content-Length is in (pve-http-server ``src/PVE/APIServer/AnyEvent.pm``
1712-1719). A streamed upload cut short must reach the node as a cut connection, not as a request the
node waits on (or completes).
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pvegateway.app import create_app
from pvegateway.testing_server import ThreadedServer
from tests.hostile.wire import Answers, cut, wait_read

from .conftest import Node
from .test_faults_more import Served

REVOKE = b"path=/&users=victim@pve&roles=Administrator&delete=1"
CUT_AT = REVOKE.index(b"&delete=1")  # what arrives grants Administrator on / to victim@pve
READ_TIMEOUT = 10.0  # the proxy would wait this long for a node that waits for the rest of an upload


@contextlib.contextmanager
def proxy(upstream: str, cert: tuple[Path, Path, str] | None, **options: Any) -> Iterator[tuple[Served, Answers]]:
    """The gateway in proxy mode in front of ``upstream``, on plain HTTP or (``cert``) TLS, observed."""
    answers = Answers()
    app = create_app(None, "proxy", send_reason=True, observer=answers, upstreams=[upstream], **options)
    server = ThreadedServer(app, str(cert[0]) if cert else None, str(cert[1]) if cert else None)
    server.start()
    try:
        yield Served(f"{'https' if cert else 'http'}://127.0.0.1:{server.port}", app, server), answers
    finally:
        server.close()


def connect(port: int, cert: tuple[Path, Path, str] | None) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    if cert is None:
        return sock
    context = ssl.create_default_context(cafile=str(cert[0]))
    return context.wrap_socket(sock, server_hostname="127.0.0.1")


@pytest.fixture(params=["http", "tls"])
def listener(request: pytest.FixtureRequest,
             gateway_certificate: tuple[Path, Path, str]) -> tuple[Path, Path, str] | None:
    """Where clients reach the gateway: plain HTTP, or TLS with the gateway's certificate."""
    return gateway_certificate if request.param == "tls" else None


@pytest.mark.parametrize("how", ["close", "reset"])
def test_a_cut_acl_revoke_never_reaches_the_node(node: Node, listener: tuple[Path, Path, str] | None,
                                                 how: str) -> None:
    with httpx.Client(verify=ssl.create_default_context(cafile=node.certificate)) as direct:
        answer = direct.post(f"{node.url}/api2/json/access/ticket",
                             data={"username": "root@pam", "password": node.password})
        data = answer.json()["data"]
        auth = f"Cookie: PVEAuthCookie={data['ticket']}\r\nCSRFPreventionToken: {data['CSRFPreventionToken']}\r\n"
        created = direct.post(f"{node.url}/api2/json/access/users", data={"userid": "victim@pve"},
                              headers={"Cookie": f"PVEAuthCookie={data['ticket']}",
                                       "CSRFPreventionToken": data["CSRFPreventionToken"]})
        assert created.status_code == 200, created.text
    before = node.control.dump()
    with proxy(node.url, listener, ca_file=node.certificate) as (served, answers):
        sock = connect(served.server.port, listener)
        sock.sendall(f"PUT /api2/json/access/acl HTTP/1.1\r\nHost: x\r\n{auth}"
                     f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(REVOKE)}\r\n\r\n"
                     .encode() + REVOKE[:CUT_AT])
        wait_read(sock)
        cut(sock, how)
        assert answers.next().status == 0  # done with it, and nothing answered
        served.assert_released()
    assert not [seen for seen in node.recorder.api() if seen.raw_path == b"/api2/json/access/acl"]
    assert node.control.dump() == before


class Upstream:
    """A node on 127.0.0.1 that reads one request's head, then its body as it comes, and records how the
    connection ended: ``closed`` or ``reset`` by the gateway, or ``whole`` (it got all of Content-Length)."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.length = -1
        self.received = 0
        self.reading = threading.Event()  # the head and some of the body are in
        self.ended = threading.Event()
        self.ending = ""
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.listener.accept()
        with conn:
            conn.settimeout(30)
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            head, _, rest = data.partition(b"\r\n\r\n")
            self.length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:"))
            self.received = len(rest)
            while self.received < self.length:
                if self.received:
                    self.reading.set()
                try:
                    chunk = conn.recv(65536)
                except ConnectionResetError:
                    self.ending = "reset"
                    break
                if not chunk:
                    self.ending = "closed"
                    break
                self.received += len(chunk)
            else:
                self.ending = "whole"
            self.ended.set()

    def close(self) -> None:
        self.listener.close()
        self.thread.join(timeout=35)


@pytest.mark.parametrize("how", ["close", "reset"])
def test_a_cut_upload_is_cut_at_the_node_too(listener: tuple[Path, Path, str] | None, how: str) -> None:
    boundary = "cutupload31"
    prefix = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"content\"\r\n\r\niso\r\n"
              f"--{boundary}\r\nContent-Disposition: form-data; name=\"filename\"; filename=\"cut.iso\"\r\n"
              "Content-Type: application/octet-stream\r\n\r\n").encode()
    length = len(prefix) + 1024 * 1024 + len(f"\r\n--{boundary}--\r\n")
    upstream = Upstream()
    try:
        with proxy(f"http://127.0.0.1:{upstream.port}", listener, read_timeout=READ_TIMEOUT) as (served, answers):
            sock = connect(served.server.port, listener)
            sock.sendall(f"POST /api2/json/nodes/pve1/storage/local/upload HTTP/1.1\r\nHost: x\r\n"
                         f"Authorization: PVEAPIToken=root@pam!t=x\r\n"
                         f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {length}\r\n\r\n"
                         .encode() + prefix + b"i" * 65536)
            assert upstream.reading.wait(5), "the upload never reached the node"
            cut(sock, how)
            # at once, not after the read timeout the node's silence would run into
            assert upstream.ended.wait(READ_TIMEOUT / 2), "the node still waits for the rest of the upload"
            assert upstream.ending in ("closed", "reset")
            assert upstream.received < upstream.length == length
            assert answers.next().status == 0
            served.assert_released(upstream.port)
    finally:
        upstream.close()
