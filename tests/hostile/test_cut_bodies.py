"""A request whose body is cut short never runs: the connection ends (FIN, RST, TLS without close_notify)
before all of its Content-Length arrived, so the mock changes nothing and sends no answer.

pveproxy dispatches a body only once all of Content-Length is in (pve-http-server
``src/PVE/APIServer/AnyEvent.pm`` 1712-1719, ``unshift_read(chunk => $len)``) and drops a connection
that ends before (``on_eof``/``on_error``, 1979-1994). The gateway once ran what had arrived: a revoke
cut before ``&delete=1`` became a grant. Each case here makes sure the server had read the part that
arrived before the cut (``wait_read``), so the old behaviour would show.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator

import httpx
import pytest

from pvegateway.statedir import certificate
from pvegateway.testing import PVEMock, running_mock

from .wire import Answers, Login, cut, wait_read

# the whole body revokes Administrator on / from victim@pve; without its last field it grants it
REVOKE = b"path=/&users=victim@pve&roles=Administrator&delete=1"
ACL = ("PUT", "/api2/json/access/acl", REVOKE, REVOKE.index(b"&delete=1"))
POOL_BODY = b"poolid=cutpool&comment=made-by-a-request-that-never-arrived-whole"
POOL = ("POST", "/api2/json/pools", POOL_BODY, 15)  # 15 of its bytes: poolid=cutpool&

BOUNDARY = "cutboundary9f2"
UPLOAD_BODY = (
    f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"content\"\r\n\r\niso\r\n"
    f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"filename\"; filename=\"cut.iso\"\r\n"
    f"Content-Type: application/octet-stream\r\n\r\n{'i' * 4096}\r\n--{BOUNDARY}--\r\n"
).encode()
# cut after the file's closing delimiter has begun: a reader that took a short body for the whole one
# would find the file's end and store it
UPLOAD = ("POST", "/api2/json/nodes/pve1/storage/local/upload", UPLOAD_BODY, len(UPLOAD_BODY) - 4)


class Served:
    def __init__(self, mock: PVEMock, root: Login, answers: Answers, tls: ssl.SSLContext | None) -> None:
        self.mock = mock
        self.root = root
        self.answers = answers
        self.tls = tls

    def connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.mock.port), timeout=5)
        return self.tls.wrap_socket(sock, server_hostname="127.0.0.1") if self.tls is not None else sock


@pytest.fixture(scope="module", params=["http", "tls"])
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    made = certificate(tmp_path_factory.mktemp("cut-tls")) if request.param == "tls" else None
    context = ssl.create_default_context(cafile=str(made[0])) if made is not None else None
    answers = Answers()
    with running_mock(tls=made is not None, certificate=made, observer=answers) as mock, \
            httpx.Client(verify=context or True) as client:
        answer = client.post(f"{mock.url}/api2/json/access/ticket",
                             data={"username": mock.user, "password": mock.password})
        data = answer.json()["data"]
        root = Login(data["username"], data["ticket"], data["CSRFPreventionToken"])
        answer = client.post(f"{mock.url}/api2/json/access/users", data={"userid": "victim@pve"},
                             headers=root.headers)
        assert answer.status_code == 200, answer.text
        if context is not None:
            context.check_hostname = False
        yield Served(mock, root, answers, context)


def head(served: Served, method: str, path: str, body: bytes, content_type: str) -> bytes:
    root = served.root
    return (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: PVEAuthCookie={root.ticket}\r\n"
            f"CSRFPreventionToken: {root.csrf}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()


@pytest.mark.parametrize("how", ["close", "reset"])
@pytest.mark.parametrize(("method", "path", "body", "sent"), [ACL, POOL, UPLOAD], ids=["acl", "pool", "upload"])
def test_a_body_cut_short_runs_nothing_and_gets_no_answer(
    served: Served, how: str, method: str, path: str, body: bytes, sent: int,
) -> None:
    content_type = (f"multipart/form-data; boundary={BOUNDARY}" if path.endswith("/upload")
                    else "application/x-www-form-urlencoded")
    before = served.mock.control.dump()
    served.answers.clear()
    sock = served.connect()
    sock.sendall(head(served, method, path, body, content_type) + body[:sent])
    wait_read(sock)
    cut(sock, how)
    finished = served.answers.next()
    assert (finished.method, finished.status) == (method, 0)  # the gateway is done with it: no answer
    assert served.mock.control.dump() == before, "a request cut short changed the cluster"


def test_the_same_request_whole_does_run(served: Served) -> None:
    """The oracle for the cases above: sent whole, the cut ACL change is a revoke and runs (200)."""
    sock = served.connect()
    with sock:
        sock.sendall(head(served, *ACL[:2], REVOKE, "application/x-www-form-urlencoded") + REVOKE)
        assert sock.recv(12) == b"HTTP/1.1 200"
    assert served.answers.next().status == 200
