"""Service-credential mode: callers with a gateway API key act as the gateway's PVE account (token, or
user and password with a ticket the gateway renews); nobody else does, and no secret is ever logged."""

from __future__ import annotations

import logging
import re
import ssl
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import parse_qs

import aiohttp
import pytest

from pvegateway.backends.proxy import credentials
from pvegateway.backends.proxy.options import ProxyConfigError, ProxyOptions, ServiceCredential

from .conftest import Node, serve_node, serve_proxy
from .test_passthrough import Client

KEY = "gw-key-0f5c2d9e8a71c4b6e3d2"
TOKEN_SECRET = "5b3f0e4a-9d1c-4c7e-b2a8-3e6f1d0c9a77"


@pytest.fixture
async def client(node_certificate: tuple[Path, Path, str]) -> AsyncIterator[Client]:
    context = ssl.create_default_context()
    context.load_verify_locations(cafile=str(node_certificate[0]))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)) as session:
        yield Client(session)


@pytest.fixture
def node(node_certificate: tuple[Path, Path, str]) -> Iterator[Node]:
    """A node whose root password is distinctive enough to search the logs for."""
    with serve_node(node_certificate, root_password="sv-Pass-7e1c9b") as served:
        yield served


@pytest.fixture
def service_token(node: Node) -> str:
    def make(backend: object) -> None:
        from pvegateway.backends.mock.backend import MockBackend
        from pvegateway.backends.mock.state import Token

        assert isinstance(backend, MockBackend)
        user = backend.mock.cluster.users["root@pam"]
        user.tokens["gw"] = Token("gw", secret=TOKEN_SECRET, privsep=False)

    node.control.call(make)
    return f"root@pam!gw={TOKEN_SECRET}"


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.DEBUG)
    yield caplog


def _bearer(key: str = KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_a_gateway_key_acts_as_the_service_token(client: Client, node: Node, service_token: str,
                                                       node_certificate: tuple[Path, Path, str],
                                                       logs: pytest.LogCaptureFixture) -> None:
    service = ServiceCredential(token=service_token)
    with serve_proxy(node_certificate, upstreams=[node.url], fingerprints=[node.fingerprint], api_keys=[KEY],
                     service=service) as proxy:
        answer = await client.call("GET", proxy + "/api2/json/nodes", headers=_bearer())
        assert answer.status == 200
        seen = node.recorder.api()[-1]
        assert seen.headers["authorization"] == f"PVEAPIToken={service_token}"
        made = await client.call("POST", proxy + "/api2/json/nodes/pve1/qemu", headers=_bearer(),
                                 data={"vmid": "300", "name": "by-key"})
        assert made.status == 200  # a token needs no CSRF token
        wrong = await client.call("GET", proxy + "/api2/json/nodes", headers=_bearer("gw-key-guess"))
        assert (wrong.status, wrong.reason, wrong.body) == (401, "Authentication failed!", b"")
        assert node.recorder.api()[-1].raw_path == b"/api2/json/nodes/pve1/qemu"  # never reached the node
        anonymous = await client.call("GET", proxy + "/api2/json/nodes")
        assert (anonymous.status, anonymous.reason) == (401, "No ticket")  # the node's answer: not an open proxy
        assert "authorization" not in node.recorder.api()[-1].headers
        document = await client.call("GET", proxy + "/openapi.json")
        assert document.status == 200
        assert TOKEN_SECRET.encode() not in document.body and KEY.encode() not in document.body
    for secret in (TOKEN_SECRET, KEY, "gw-key-guess"):
        assert secret not in logs.text


@pytest.mark.parametrize(("authorization", "admitted"), [
    (f"Bearer\t{KEY}", True),  # a tab for the space: still the key, and never forwarded
    (f"BEARER   {KEY}\t", True),
    ("bearer\t\tgw-key-guess", False),
    (f"Bearer{KEY}", False),  # no separator: a key attempt that presents no key
    ("Bearer", False),
    (f"  bearer:{KEY}", False),
])
async def test_every_bearer_form_is_a_key_attempt_and_never_reaches_the_node(
    client: Client, node: Node, service_token: str, node_certificate: tuple[Path, Path, str],
    authorization: str, admitted: bool,
) -> None:
    """Before, only 'Bearer KEY' with one space was a gateway key: 'Bearer<TAB>KEY' went to the node as
    it was, the key with it (in clear text over an http:// upstream)."""
    service = ServiceCredential(token=service_token)
    with serve_proxy(node_certificate, upstreams=[node.url], fingerprints=[node.fingerprint], api_keys=[KEY],
                     service=service) as proxy:
        answer = await client.call("GET", proxy + "/api2/json/version", headers={"Authorization": authorization})
    if admitted:
        assert answer.status == 200
        assert node.recorder.api()[-1].headers["authorization"] == f"PVEAPIToken={service_token}"
    else:
        assert (answer.status, answer.reason, answer.body) == (401, "Authentication failed!", b"")
        assert node.recorder.api() == []
    for seen in node.recorder.seen:
        assert KEY not in str(seen.headers) and "gw-key-guess" not in str(seen.headers)


async def test_wrong_gateway_keys_are_throttled_per_client_address(
    client: Client, node: Node, service_token: str, node_certificate: tuple[Path, Path, str],
) -> None:
    """Before, 1,000 wrong keys were answered 401 at full speed. Now the 11th within a minute from one
    address is a 429 with Retry-After, the right key from that address too; another address with the
    right key, and the same address with its own PVE credentials (not a key attempt), go on."""
    service = ServiceCredential(token=service_token)
    context = ssl.create_default_context()
    context.load_verify_locations(cafile=str(node_certificate[0]))
    with serve_proxy(node_certificate, upstreams=[node.url], fingerprints=[node.fingerprint], api_keys=[KEY],
                     service=service) as proxy:
        url = proxy + "/api2/json/version"
        wrong = [(await client.call("GET", url, headers=_bearer(f"{KEY}-{n}"))).status for n in range(10)]
        refused = await client.call("GET", url, headers=_bearer(f"{KEY}-10"))
        right_but_refused = await client.call("GET", url, headers=_bearer())
        anonymous = await client.call("GET", url)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(
                ssl=context, local_addr=("127.0.0.2", 0))) as elsewhere:
            other = await Client(elsewhere).call("GET", url, headers=_bearer())
    assert wrong == [401] * 10
    for answer in (refused, right_but_refused):
        body = answer.json()
        assert (answer.status, body["data"]) == (429, None)
        assert re.fullmatch(r"too many failed authentication attempts - retry in \d+ s\n", str(body["message"]))
    assert (anonymous.status, anonymous.reason) == (401, "No ticket")  # the node's answer: passed through
    assert other.status == 200
    assert [s.headers.get("authorization") for s in node.recorder.api()] == [None, f"PVEAPIToken={service_token}"]


async def test_the_service_user_logs_in_once_and_renews_its_ticket(
    client: Client, node: Node, node_certificate: tuple[Path, Path, str], logs: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    service = ServiceCredential(username="root@pam", password=node.password)
    with serve_proxy(node_certificate, upstreams=[node.url], fingerprints=[node.fingerprint], api_keys=[KEY],
                     service=service) as proxy:
        for _ in range(3):
            assert (await client.call("GET", proxy + "/api2/json/version", headers=_bearer())).status == 200
        logins = [s for s in node.recorder.api() if s.raw_path == b"/api2/json/access/ticket"]
        assert len(logins) == 1
        calls = [s for s in node.recorder.api() if s.raw_path == b"/api2/json/version"]
        ticket = calls[0].headers["cookie"]
        assert ticket.startswith("PVEAuthCookie=PVE%3Aroot%40pam%3A")
        made = await client.call("POST", proxy + "/api2/json/nodes/pve1/qemu", headers=_bearer(),
                                 data={"vmid": "301"})
        assert made.status == 200  # the gateway sends the ticket's CSRF token itself
        assert node.recorder.api()[-1].headers["csrfpreventiontoken"]

        # at half-life the gateway renews by posting the ticket as password, as PVE clients do
        monkeypatch.setattr(credentials, "RENEW_AFTER", -1.0)
        assert (await client.call("GET", proxy + "/api2/json/version", headers=_bearer())).status == 200
        renewal = [s for s in node.recorder.api() if s.raw_path == b"/api2/json/access/ticket"][-1]
        assert parse_qs(renewal.body.decode())["password"][0].startswith("PVE:root@pam:")
        monkeypatch.setattr(credentials, "RENEW_AFTER", 3600.0)

        # the node forgets the ticket (its clock passes the 2 h lifetime): one fresh login, then the call
        node.control.advance(3 * 3600)
        before = len(node.recorder.api())
        answer = await client.call("GET", proxy + "/api2/json/version", headers=_bearer())
        assert answer.status == 200
        paths = [s.raw_path for s in node.recorder.api()[before:]]
        assert paths[0] == b"/api2/json/version" and paths[-1] == b"/api2/json/version"
        assert b"/api2/json/access/ticket" in paths
    assert node.password not in logs.text
    assert ticket.removeprefix("PVEAuthCookie=") not in logs.text


SERVICE_PASSWORD = "svc-Pass-3d9e1b7c"
SELF_SERVICE = [  # (method, path, form): each would give the caller a credential of the service account
    ("POST", "/access/users/svc@pve/token/backdoor", {"privsep": "0"}),
    ("PUT", "/access/users/svc@pve/token/gw", {"regenerate": "1"}),
    ("DELETE", "/access/users/svc@pve/token/gw", None),
    ("PUT", "/access/users/svc@pve", {"expire": "0"}),
    ("POST", "/access/tfa/svc@pve", {"type": "recovery"}),
    ("PUT", "/access/password", {"userid": "svc@pve", "password": "new-password-1"}),
    ("PUT", "/access/password", {"userid": "SVC@pve", "password": "new-password-1"}),
    ("POST", "/access/ticket", {"username": "svc@pve", "password": SERVICE_PASSWORD}),
    ("POST", "/access/ticket", {"username": "svc", "realm": "pve", "password": SERVICE_PASSWORD}),
]


@pytest.fixture
async def service_user(client: Client, node: Node) -> ServiceCredential:
    """svc@pve on the node, with rights on the guests and a token 'gw' of its own."""
    root = await client.login(node.url, "root@pam", node.password)
    api = node.url + "/api2/json"
    for method, path, form in [
        ("POST", "/access/users", {"userid": "svc@pve", "password": SERVICE_PASSWORD}),
        ("PUT", "/access/acl", {"path": "/", "users": "svc@pve", "roles": "PVEVMAdmin"}),
        ("POST", "/access/users/svc@pve/token/gw", {"privsep": "1"}),
    ]:
        assert (await client.call(method, api + path, headers=root, data=form)).status == 200, path
    return ServiceCredential(username="svc@pve", password=SERVICE_PASSWORD)


async def test_a_key_holder_cannot_mint_credentials_of_the_service_account(
    client: Client, node: Node, node_certificate: tuple[Path, Path, str], service_user: ServiceCredential,
) -> None:
    """Before, a key holder could POST /access/users/svc@pve/token/backdoor (PVE lets a user make its
    own tokens: pve-access-control src/PVE/API2/User.pm:759-760, 'userid-param self') and got a secret
    that works on the nodes directly, past the gateway and after the key is revoked. Each such call is
    now PVE's 403, and never sent."""
    with serve_proxy(node_certificate, upstreams=[node.url], fingerprints=[node.fingerprint], api_keys=[KEY],
                     service=service_user) as proxy:
        api = proxy + "/api2/json"
        before = len(node.recorder.api())
        answers = [await client.call(method, api + path, headers=_bearer(), data=form)
                   for method, path, form in SELF_SERVICE]
        tokens = await client.call("GET", api + "/access/users/svc@pve/token", headers=_bearer())
        version = await client.call("GET", api + "/version", headers=_bearer())
        sent = [(s.method, s.raw_path.decode()) for s in node.recorder.api()[before:]]
        root = await client.login(proxy, "root@pam", node.password)  # the caller's own credentials:
        by_root = await client.call("PUT", api + "/access/users/svc@pve/token/gw", headers=root,
                                    data={"comment": "the node judges"})
    message = ("Permission check failed (gateway API keys cannot change, or log in as, the gateway's "
               "service account svc@pve)\n")
    for (method, path, _form), answer in zip(SELF_SERVICE, answers, strict=True):
        assert (answer.status, answer.json()) == (403, {"data": None, "message": message}), (method, path)
        assert answer.reason == message.strip()
    assert (tokens.status, version.status, by_root.status) == (200, 200, 200)  # reads, and others' calls, go on
    # only the gateway's own login (on the first call it let through) and the two reads reached the node
    assert sent == [("POST", "/api2/json/access/ticket"), ("GET", "/api2/json/access/users/svc@pve/token"),
                    ("GET", "/api2/json/version")]


async def test_a_service_account_that_cannot_log_in_is_a_clear_502(
    client: Client, node: Node, node_certificate: tuple[Path, Path, str], logs: pytest.LogCaptureFixture,
) -> None:
    service = ServiceCredential(username="root@pam", password="not-the-password")
    with serve_proxy(node_certificate, upstreams=[node.url], fingerprints=[node.fingerprint], api_keys=[KEY],
                     service=service) as proxy:
        answer = await client.call("GET", proxy + "/api2/json/version", headers=_bearer())
    assert answer.status == 502
    assert answer.json()["message"] == \
        "the gateway's service account could not log in to PVE; see the gateway's log\n"
    assert "not-the-password" not in logs.text
    assert "root@pam" in logs.text


def test_never_an_open_proxy() -> None:
    token = ServiceCredential(token=f"root@pam!gw={TOKEN_SECRET}")
    with pytest.raises(ProxyConfigError, match="needs gateway API keys"):
        ProxyOptions(upstreams=["https://pve1:8006"], service=token)
    assert TOKEN_SECRET not in repr(token) and TOKEN_SECRET not in repr(
        ProxyOptions(upstreams=["https://pve1:8006"], service=token, api_keys=[KEY]))
    with pytest.raises(ProxyConfigError, match="user@realm!tokenid=secret"):
        ServiceCredential(token="just-a-secret")
    with pytest.raises(ProxyConfigError, match="only scheme, host and port"):
        ProxyOptions(upstreams=["https://pve1:8006/api2/json"])
    with pytest.raises(ProxyConfigError, match="at least one --upstream"):
        ProxyOptions(upstreams=[])


def test_gateway_keys_compare_digests() -> None:
    keys = credentials.GatewayKeys(["a-key", "another-key"])
    assert keys.valid("another-key") and not keys.valid("another-ke") and not keys.valid("")
    assert keys.presented({"authorization": "bearer  a-key "}) == "a-key"
    assert keys.presented({"authorization": "PVEAPIToken=root@pam!x=y"}) is None
