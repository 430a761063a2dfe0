"""A request whose body is cut short never runs: the connection ends (FIN, RST, TLS without close_notify,
a half-close) before all of its Content-Length arrived, so the mock changes nothing and sends no answer.
A request that arrived whole does run, even when its client half-closed or left at once.

pveproxy dispatches a body only once all of Content-Length is in (pve-http-server
``src/PVE/APIServer/AnyEvent.pm`` 1712-1719, ``unshift_read(chunk => $len)``) and drops a connection
that ends before (``on_eof``/``on_error``, 1979-1994). AnyEvent::Handle serves its read queue from what
it has buffered before it reports the end of input, so a request received whole is dispatched even when
its client has closed; its answer may go nowhere. The gateway once ran what had arrived: a revoke cut
before ``&delete=1`` became a grant. Each case here makes sure the server had read the part that
arrived before the cut (``wait_read``), so the old behaviour would show; the ``late`` cases hold the
request at a door in front of the app until the server has handled the client's leaving (an app that
reads its request late: behind an embedding app's middleware, or on a busy loop).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from pvegateway.http.api import Exchange
from pvegateway.statedir import certificate
from pvegateway.testing import DEFAULT_PASSWORD, DEFAULT_USER, Control, mock_gateway
from pvegateway.testing_server import ThreadedServer

from .wire import Answers, Login, cut, ends, wait_read, wait_server_closed

# the whole body revokes Administrator on / from victim@pve; without its last field it grants it
REVOKE = b"path=/&users=victim@pve&roles=Administrator&delete=1"
ACL = ("PUT", "/api2/json/access/acl", REVOKE, REVOKE.index(b"&delete=1"))
POOL_BODY = b"poolid=cutpool&comment=made-by-a-request-that-never-arrived-whole"
POOL = ("POST", "/api2/json/pools", POOL_BODY, 15)  # 15 of its bytes: poolid=cutpool&

BOUNDARY = "cutboundary9f2"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"
FORM = "application/x-www-form-urlencoded"


def upload_body(filename: str) -> bytes:
    return (
        f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"content\"\r\n\r\niso\r\n"
        f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"filename\"; filename=\"{filename}\"\r\n"
        f"Content-Type: application/octet-stream\r\n\r\n{'i' * 4096}\r\n--{BOUNDARY}--\r\n"
    ).encode()


UPLOAD_BODY = upload_body("cut.iso")
# cut after the file's closing delimiter has begun: a reader that took a short body for the whole one
# would find the file's end and store it
UPLOAD = ("POST", "/api2/json/nodes/pve1/storage/local/upload", UPLOAD_BODY, len(UPLOAD_BODY) - 4)


class Door:
    """An ASGI app in front of the gateway, where each request waits until the door is open (it is,
    unless a test closed it)."""

    def __init__(self, app: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.app = app
        self.loop = loop
        self.opened = asyncio.Event()
        self.opened.set()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            await self.opened.wait()
        await self.app(scope, receive, send)

    def close(self) -> None:
        """For the next request (the test's thread, between requests)."""
        self.opened = asyncio.Event()

    def open(self) -> None:
        self.loop.call_soon_threadsafe(self.opened.set)


class Served:
    def __init__(self, server: ThreadedServer, control: Control, door: Door, root: Login, answers: Answers,
                 tls: ssl.SSLContext | None) -> None:
        self.port = server.port
        self.control = control
        self.door = door
        self.root = root
        self.answers = answers
        self.tls = tls

    def connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        return self.tls.wrap_socket(sock, server_hostname="127.0.0.1") if self.tls is not None else sock

    def send_and_leave(self, request: bytes, how: str, *, late: bool) -> Exchange:
        """Send ``request``, end the connection ``how`` once the server has read it, and wait until the
        gateway is done with the request. ``late``: it waits at the door until the server has closed the
        connection."""
        self.answers.clear()
        if late:
            self.door.close()
        with self.connect() as sock:
            sock.sendall(request)
            wait_read(sock)
            connection = ends(sock)
            cut(sock, how)
            if late:
                wait_server_closed(connection)
                self.door.open()
            return self.answers.next()


@pytest.fixture(scope="module", params=["http", "tls"])
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    made = certificate(tmp_path_factory.mktemp("cut-tls")) if request.param == "tls" else None
    context = ssl.create_default_context(cafile=str(made[0])) if made is not None else None
    answers = Answers()
    gateway = mock_gateway(observer=answers)
    loop = asyncio.new_event_loop()
    door = Door(gateway, loop)
    server = ThreadedServer(door, str(made[0]) if made else None, str(made[1]) if made else None, loop=loop)
    control = Control(gateway, loop)
    server.start()
    url = f"{'https' if made else 'http'}://127.0.0.1:{server.port}"
    try:
        with httpx.Client(verify=context or True) as client:
            answer = client.post(f"{url}/api2/json/access/ticket",
                                 data={"username": DEFAULT_USER, "password": DEFAULT_PASSWORD})
            data = answer.json()["data"]
            root = Login(data["username"], data["ticket"], data["CSRFPreventionToken"])
            answer = client.post(f"{url}/api2/json/access/users", data={"userid": "victim@pve"},
                                 headers=root.headers)
            assert answer.status_code == 200, answer.text
        for _setup in range(2):  # the login and the user: recorded once each, maybe after their answers
            answers.next()
        if context is not None:
            context.check_hostname = False
        yield Served(server, control, door, root, answers, context)
    finally:
        server.close()


def head(served: Served, method: str, path: str, body: bytes, content_type: str) -> bytes:
    root = served.root
    return (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: PVEAuthCookie={root.ticket}\r\n"
            f"CSRFPreventionToken: {root.csrf}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()


@pytest.mark.parametrize("late", [False, True], ids=["reading", "late"])
@pytest.mark.parametrize("how", ["close", "reset", "half-close"])
@pytest.mark.parametrize(("method", "path", "body", "sent"), [ACL, POOL, UPLOAD], ids=["acl", "pool", "upload"])
def test_a_body_cut_short_runs_nothing_and_gets_no_answer(
    served: Served, how: str, late: bool, method: str, path: str, body: bytes, sent: int,
) -> None:
    content_type = MULTIPART if path.endswith("/upload") else FORM
    before = served.control.dump()
    finished = served.send_and_leave(head(served, method, path, body, content_type) + body[:sent], how, late=late)
    assert (finished.method, finished.status) == (method, 0)  # the gateway is done with it: no answer
    assert served.control.dump() == before, "a request cut short changed the cluster"


def test_the_same_request_whole_does_run(served: Served) -> None:
    """The oracle for the cases above: sent whole, the cut ACL change is a revoke and runs (200)."""
    sock = served.connect()
    with sock:
        sock.sendall(head(served, *ACL[:2], REVOKE, FORM) + REVOKE)
        assert sock.recv(12) == b"HTTP/1.1 200"
    assert served.answers.next().status == 200


def _pools(served: Served) -> list[str]:
    return [pool["poolid"] for pool in served.control.dump()["pools"]]


def _isos(served: Served) -> list[str]:
    local = next(storage for storage in served.control.dump()["storages"] if storage["storage"] == "local")
    return [volume["volid"] for volume in local["volumes"]]


@pytest.mark.parametrize("late", [False, True], ids=["reading", "late"])
@pytest.mark.parametrize("how", ["half-close", "close"])
@pytest.mark.parametrize("kind", ["pool", "upload"])
def test_a_request_received_whole_runs_though_its_client_left(
    served: Served, kind: str, how: str, late: bool,
) -> None:
    """A client that sends a whole request and half-closes at once (an HTTP/1.0 client, ``nc -N``), or
    closes: the request runs as under pveproxy, though nobody may be left to read the answer."""
    name = f"whole-{how}-{'late' if late else 'reading'}"
    if kind == "pool":
        request = head(served, "POST", "/api2/json/pools", body := f"poolid={name}".encode(), FORM) + body
        made, created = name, _pools
    else:
        body = upload_body(f"{name}.iso")
        request = head(served, "POST", UPLOAD[1], body, MULTIPART) + body
        made, created = f"local:iso/{name}.iso", _isos
    finished = served.send_and_leave(request, how, late=late)
    assert (finished.method, finished.status) == ("POST", 200)
    assert made in created(served)
