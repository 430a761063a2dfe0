"""Proxy mode end to end over TLS: answers pass through byte for byte, bad requests never leave, each
caller's own credentials reach the node, and the upstream comes only from configuration."""

from __future__ import annotations

import json
import ssl
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import aiohttp
import pytest

from pvegateway.backends.proxy.backend import upstream_target

from .conftest import Node, serve_proxy


@dataclass
class Answer:
    status: int
    reason: str
    content_type: str | None
    body: bytes

    def json(self) -> dict[str, object]:
        decoded: dict[str, object] = json.loads(self.body)
        return decoded


class Client:
    """One aiohttp session trusting both the node's and the gateway's certificates."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session

    async def call(self, method: str, url: str, *, headers: dict[str, str] | None = None,
                   data: object = None) -> Answer:
        async with self.session.request(method, url, headers=headers, data=data) as response:
            return Answer(response.status, response.reason or "", response.headers.get("Content-Type"),
                          await response.read())

    async def login(self, base: str, username: str, password: str) -> dict[str, str]:
        answer = await self.call("POST", f"{base}/api2/json/access/ticket",
                                 data={"username": username, "password": password})
        assert answer.status == 200, answer
        data = answer.json()["data"]
        assert isinstance(data, dict)
        return {"Cookie": f"PVEAuthCookie={quote(data['ticket'], safe='')}",
                "CSRFPreventionToken": data["CSRFPreventionToken"]}


@pytest.fixture
async def client(node_certificate: tuple[Path, Path, str],
                 gateway_certificate: tuple[Path, Path, str]) -> AsyncIterator[Client]:
    context = ssl.create_default_context()
    context.load_verify_locations(cafile=str(node_certificate[0]))
    context.load_verify_locations(cafile=str(gateway_certificate[0]))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)) as session:
        yield Client(session)


@pytest.fixture
def proxy(node: Node, gateway_certificate: tuple[Path, Path, str]) -> Iterator[str]:
    with serve_proxy(gateway_certificate, upstreams=[node.url], fingerprints=[node.fingerprint]) as url:
        yield url


READS = [
    "/api2/json/version",
    "/api2/json/nodes",
    "/api2/json/cluster/resources?type=vm",
    "/api2/json/nodes/pve1/qemu/100/config",
    "/api2/json/nodes/pve1/qemu/999/config",  # 500 ... does not exist
    "/api2/extjs/nodes/pve1/qemu/999/config",  # the extjs envelope: 200 with success 0
    "/api2/json/access/users",
    "/api2/json/nodes/pve1/storage/local/content?content=iso",
    "/api2/json/cluster/nextid?vmid=100",  # 400 from the handler: the node's message, not the gateway's
]


async def test_answers_pass_through_byte_for_byte(client: Client, node: Node, proxy: str) -> None:
    auth = await client.login(node.url, "root@pam", node.password)
    for path in READS:
        direct = await client.call("GET", node.url + path, headers=auth)
        through = await client.call("GET", proxy + path, headers=auth)
        sent = node.recorder.api()[-1]
        # what the node sent this very request (uptimes move between two requests)
        assert (through.status, through.body) == (sent.status, sent.answer), path
        assert (through.status, through.reason, through.content_type) == \
            (direct.status, direct.reason, direct.content_type), path


@pytest.mark.parametrize("authorization", ["Bearer some-gateway-key", "bearer\tsome-gateway-key",
                                           "BEARERsome-gateway-key"])
async def test_a_bearer_key_never_reaches_the_node_even_without_gateway_keys(
    client: Client, node: Node, proxy: str, authorization: str,
) -> None:
    """PVE has no bearer scheme: such a header holds a gateway key, meant for a gateway, never for a node."""
    answer = await client.call("GET", proxy + "/api2/json/version", headers={"Authorization": authorization})
    assert (answer.status, answer.reason) == (401, "No ticket")  # the node's answer to no credentials
    assert "authorization" not in node.recorder.api()[-1].headers


async def test_login_through_the_gateway_gives_a_ticket_the_node_accepts(client: Client, node: Node,
                                                                        proxy: str) -> None:
    auth = await client.login(proxy, "root@pam", node.password)
    answer = await client.call("GET", node.url + "/api2/json/version", headers=auth)
    assert answer.status == 200


async def test_a_bad_request_gets_pves_400_and_never_reaches_the_node(client: Client, node: Node,
                                                                     proxy: str) -> None:
    auth = await client.login(node.url, "root@pam", node.password)
    direct = await client.call("GET", node.url + "/api2/json/nodes/pve1/qemu/abc/config", headers=auth)
    before = len(node.recorder.api())
    through = await client.call("GET", proxy + "/api2/json/nodes/pve1/qemu/abc/config", headers=auth)
    created = await client.call("POST", proxy + "/api2/json/nodes/pve1/qemu", headers=auth,
                                data={"vmid": "250", "cores": "lots"})
    assert len(node.recorder.api()) == before
    assert through == direct
    assert (through.status, through.reason) == (400, "Parameter verification failed.")
    assert created.status == 400
    assert created.json()["errors"] == {"cores": "type check ('integer') failed - got 'lots'"}
    assert node.control.call(lambda backend: 250 not in backend.mock.cluster.guests)


async def test_writes_reach_the_node_with_the_callers_body_verbatim(client: Client, node: Node,
                                                                  proxy: str) -> None:
    auth = await client.login(proxy, "root@pam", node.password)
    form = "vmid=250&name=from-proxy&memory=1024&net0=virtio%2Cbridge%3Dvmbr0"
    created = await client.call("POST", proxy + "/api2/json/nodes/pve1/qemu", data=form.encode(),
                                headers={**auth, "Content-Type": "application/x-www-form-urlencoded"})
    assert created.status == 200
    assert str(created.json()["data"]).startswith("UPID:pve1:")
    seen = node.recorder.api()[-1]
    assert (seen.method, seen.raw_path, seen.body) == ("POST", b"/api2/json/nodes/pve1/qemu", form.encode())
    payload = json.dumps({"description": "set over JSON", "cores": 2}).encode()
    updated = await client.call("PUT", proxy + "/api2/json/nodes/pve1/qemu/250/config", data=payload,
                                headers={**auth, "Content-Type": "application/json"})
    assert updated.status == 200
    assert node.recorder.api()[-1].body == payload
    assert node.recorder.api()[-1].headers["content-type"] == "application/json"
    config = await client.call("GET", node.url + "/api2/json/nodes/pve1/qemu/250/config", headers=auth)
    data = config.json()["data"]
    assert isinstance(data, dict)
    assert (data["name"], data["description"], data["cores"]) == ("from-proxy", "set over JSON", 2)


async def test_each_caller_acts_with_its_own_rights(client: Client, node: Node, proxy: str) -> None:
    root = await client.login(proxy, "root@pam", node.password)
    made = await client.call("POST", proxy + "/api2/json/access/users", headers=root,
                             data={"userid": "alice@pve", "password": "alice-secret-1"})
    assert made.status == 200
    alice = await client.login(proxy, "alice@pve", "alice-secret-1")
    denied = await client.call("GET", proxy + "/api2/json/nodes/pve1/qemu/100/config", headers=alice)
    assert (denied.status, denied.reason) == (403, "Permission check failed (/vms/100, VM.Audit)")
    assert denied.json() == {"data": None, "message": "Permission check failed (/vms/100, VM.Audit)\n"}
    assert node.recorder.api()[-1].headers["cookie"] == alice["Cookie"]

    token = await client.call("POST", proxy + "/api2/json/access/users/root@pam/token/ci", headers=root,
                              data={"privsep": "0"})
    value = token.json()["data"]
    assert isinstance(value, dict)
    header = {"Authorization": f"PVEAPIToken=root@pam!ci={value['value']}"}
    listed = await client.call("GET", proxy + "/api2/json/nodes/pve1/qemu", headers=header)
    assert listed.status == 200
    assert node.recorder.api()[-1].headers["authorization"] == header["Authorization"]
    anonymous = await client.call("GET", proxy + "/api2/json/nodes/pve1/qemu")
    assert (anonymous.status, anonymous.reason, anonymous.body) == (401, "No ticket", b"")


async def test_the_upstream_comes_only_from_configuration(client: Client, node: Node, proxy: str) -> None:
    auth = await client.login(node.url, "root@pam", node.password)
    headers = {**auth, "Host": "10.0.0.1:8006", "X-Forwarded-Host": "10.0.0.1", "PVEDisableProxy": "true"}
    answer = await client.call("GET", proxy + "/api2/json/version", headers=headers)
    assert answer.status == 200
    seen = node.recorder.api()[-1]
    assert seen.headers["host"] == node.url.removeprefix("https://")
    assert "x-forwarded-host" not in seen.headers and "pvedisableproxy" not in seen.headers
    # a volume with dot segments stays one path below the storage: nothing resolves the '..'
    path = "/api2/json/nodes/pve1/storage/local/content/local:iso%2F..%2F..%2F..%2F..%2Fversion"
    await client.call("GET", proxy + path, headers=auth)
    raw = node.recorder.api()[-1].raw_path
    assert raw.startswith(b"/api2/json/nodes/pve1/storage/local/content/local:iso/")
    assert b"/../" not in raw and raw.count(b"%2E%2E") == 4


def test_upstream_target_escapes_what_a_path_must_not_carry() -> None:
    assert upstream_target("json", "/nodes/pve1/qemu", "") == "/api2/json/nodes/pve1/qemu"
    assert upstream_target("extjs", "/version", "_dc=1") == "/api2/extjs/version?_dc=1"
    assert upstream_target("json", "/a b/c?d#e/+/..", "") == "/api2/json/a%20b/c%3Fd%23e/%2B/%2E%2E"


async def test_a_console_websocket_is_refused_not_passed_through(client: Client, node: Node, proxy: str) -> None:
    """The proxy does not pass WebSocket upgrades on to the node: a console's vncwebsocket through it
    is refused at once (403), while the node itself upgrades the same request."""
    auth = await client.login(node.url, "root@pam", node.password)
    answer = await client.call("POST", node.url + "/api2/json/nodes/pve1/termproxy", headers=auth, data={})
    console = answer.json()["data"]
    assert isinstance(console, dict)
    path = "/api2/json/nodes/pve1/vncwebsocket"
    params = {"port": str(console["port"]), "vncticket": console["ticket"]}
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.session.ws_connect(proxy + path, params=params, headers=auth, protocols=("binary",))
    assert refused.value.status == 403
    ws = await client.session.ws_connect(node.url + path, params=params, headers=auth, protocols=("binary",))
    await ws.close()
