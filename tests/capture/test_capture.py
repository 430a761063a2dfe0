"""``pvegateway seed capture`` against a served mock: the captured file, served as a second mock, answers
every GET the client tools call (docs/client-usage.json) as the first does; a read-only token is enough;
no secret of the source reaches the file.

The oracle is the source cluster itself: whatever the mock answers there, the copy must answer too.
"""

from __future__ import annotations

import contextlib
import json
import ssl
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from pvegateway import statedir
from pvegateway.testing import mock_gateway
from tests.live import live_server

ROOT_PASSWORD = "PLANTED-root-password-5e1f"
ALICE_PASSWORD = "PLANTED-alice-password-77a2"
CIPASSWORD = "PLANTED-cloudinit-password-90b1"
SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPLANTEDsshkey0000000000000000000000000000 planted@example"
INFLUX_TOKEN = "PLANTED-influx-token-c3d4"
GOTIFY_TOKEN = "PLANTED-gotify-token-e5f6"
LDAP_PASSWORD = "PLANTED-ldap-bind-password-a7b8"
COPY_PASSWORD = "copy-password-for-every-user"  # nosec B105 # the copy's own, given to capture
SEED = {  # a second storage that several nodes share, on top of the default cluster's three nodes
    "storages": [
        {"storage": "local", "type": "dir", "content": ["iso", "vztmpl", "backup"], "config": {"path": "/var/lib/vz"},
         "volumes": [{"volid": "local:iso/debian-13.iso", "storage": "local", "node": "pve1", "content": "iso",
                      "size": 663748608, "format": "iso", "ctime": 1735689600}]},
        {"storage": "local-lvm", "type": "lvmthin", "content": ["images", "rootdir"],
         "config": {"thinpool": "data", "vgname": "pve"},
         "volumes": [{"volid": "local-lvm:vm-100-disk-0", "storage": "local-lvm", "node": "pve1", "content": "images",
                      "size": 34359738368, "vmid": 100, "ctime": 1735689600},
                     {"volid": "local-lvm:vm-101-disk-0", "storage": "local-lvm", "node": "pve2", "content": "images",
                      "size": 8589934592, "vmid": 101, "ctime": 1735689600},
                     {"volid": "local-lvm:vm-200-disk-0", "storage": "local-lvm", "node": "pve1",
                      "content": "rootdir", "size": 8589934592, "vmid": 200, "ctime": 1735689600}]},
        {"storage": "tank", "type": "zfspool", "content": ["images", "rootdir"], "config": {"pool": "rpool/data"},
         "volumes": [{"volid": f"tank:vm-{vmid}-disk-1", "storage": "tank", "node": node, "content": "images",
                      "size": 1073741824, "vmid": vmid, "ctime": 1735689600} for vmid, node in ((100, "pve1"),
                                                                                            (101, "pve2"))]},
        {"storage": "nfs-shared", "type": "nfs", "content": ["images", "backup"], "shared": True,
         "config": {"server": "192.0.2.50", "export": "/export/pve", "path": "/mnt/pve/nfs-shared"},
         "volumes": [{"volid": "nfs-shared:backup/vzdump-qemu-100-2025_01_01-00_00_00.vma.zst",
                      "storage": "nfs-shared", "node": "pve1", "content": "backup", "size": 1073741824,
                      "format": "vma.zst", "vmid": 100, "ctime": 1735689600, "notes": "nightly"}]},
    ],
    # pve2 still runs 9.1 (a cluster mid-upgrade)
    "nodes": [{"name": "pve1", "ip": "192.0.2.11"},
              {"name": "pve2", "ip": "192.0.2.12", "version": "9.1.11", "repoid": "0123456789abcdef"},
              {"name": "pve3", "ip": "192.0.2.13"}],
    "guests": [
        {"vmid": 100, "kind": "qemu", "node": "pve1", "status": "running", "started": 1735689600,
         "config": {"name": "web01", "memory": "2048", "cores": "2",
                    "scsi0": "local-lvm:vm-100-disk-0,size=32G,replicate=0",
                    "scsi1": "tank:vm-100-disk-1,size=1G",
                    "net0": "virtio=BC:24:11:00:01:00,bridge=vmbr0,firewall=1", "ostype": "l26"}},
        {"vmid": 101, "kind": "qemu", "node": "pve2", "status": "stopped",
         "config": {"name": "db01", "memory": "4096", "scsi0": "local-lvm:vm-101-disk-0,size=8G,replicate=0",
                    "scsi1": "tank:vm-101-disk-1,size=1G",
                    "net0": "virtio=BC:24:11:00:01:01,bridge=vmbr0", "ide2": "local-lvm:cloudinit"}},
        {"vmid": 200, "kind": "lxc", "node": "pve1", "status": "running", "started": 1735689600,
         "config": {"hostname": "proxy01", "memory": "512", "ostype": "debian",
                    "rootfs": "local-lvm:vm-200-disk-0,size=8G",
                    "net0": "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:02:00,ip=dhcp,type=veth"}},
    ],
}
PLANTED = (ROOT_PASSWORD, ALICE_PASSWORD, CIPASSWORD, "PLANTEDsshkey", INFLUX_TOKEN, GOTIFY_TOKEN, LDAP_PASSWORD)
# answers that change by themselves (time passing, counters) or hold what a capture leaves out on purpose
VOLATILE = frozenset({"uptime", "time", "localtime", "cpu", "loadavg", "idle", "wait", "netin", "netout",
                      "diskread", "diskwrite", "pressurecpusome", "pressurecpufull", "pressureiosome",
                      "pressureiofull", "pressurememorysome", "pressurememoryfull",
                      "ballooninfo", "blockstat", "nics"})  # a running VM's counters (status/current)
NOT_CAPTURED = ("/tasks", "/cluster/log", "/syslog", "/journal", "/rrd", "/vncwebsocket", "/termproxy")


@dataclass
class Source:
    url: str
    certificate: str
    client: httpx.Client
    secrets: list[str]  # what the cluster's API itself answered once: token secrets
    methods: list[str]  # every request's method the source received


class Recording:
    """The source cluster's door: it notes each request's method."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.methods: list[str] = []
        self.routes = app.routes  # what uvicorn's lifespan and the gateway's own code may look at

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.methods.append(f"{scope['method']} {scope['path']}")
        await self.app(scope, receive, send)


def login(client: httpx.Client, user: str, password: str) -> None:
    answer = client.post("/api2/json/access/ticket", data={"username": user, "password": password})
    assert answer.status_code == 200, answer.text
    data = answer.json()["data"]
    client.cookies.set("PVEAuthCookie", data["ticket"])
    client.headers["CSRFPreventionToken"] = data["CSRFPreventionToken"]


def write(client: httpx.Client, method: str, path: str, data: dict[str, Any] | None = None) -> Any:
    answer = client.request(method, "/api2/json" + path, data=data)
    assert answer.status_code == 200, f"{method} {path}: {answer.text}"
    return answer.json()["data"]


def prepare(client: httpx.Client) -> list[str]:
    """Objects of every captured area, and secrets planted where PVE keeps them."""
    made: list[str] = []
    write(client, "POST", "/access/groups", {"groupid": "ops", "comment": "operators"})
    write(client, "POST", "/access/users", {"userid": "alice@pve", "password": ALICE_PASSWORD, "groups": "ops",
                                             "email": "alice@example.com", "comment": "on call"})
    made.append(write(client, "POST", "/access/users/alice@pve/token/ci", {"privsep": "1"})["value"])
    write(client, "POST", "/access/users", {"userid": "auditor@pve"})
    write(client, "PUT", "/access/acl", {"path": "/", "users": "auditor@pve", "roles": "PVEAuditor"})
    write(client, "POST", "/access/roles", {"roleid": "Backup", "privs": "VM.Backup,Datastore.AllocateSpace"})
    write(client, "PUT", "/access/acl", {"path": "/vms/100", "groups": "ops", "roles": "PVEVMUser"})
    write(client, "PUT", "/access/acl", {"path": "/vms/100", "tokens": "alice@pve!ci", "roles": "Backup"})
    write(client, "POST", "/access/domains", {"realm": "corp", "type": "ldap", "server1": "ldap.example.com",
                                               "base_dn": "dc=example,dc=com", "user_attr": "uid",
                                               "bind_dn": "cn=pve,dc=example,dc=com", "password": LDAP_PASSWORD})
    write(client, "POST", "/pools", {"poolid": "prod", "comment": "production"})
    write(client, "PUT", "/pools", {"poolid": "prod", "vms": "100,200", "storage": "local-lvm"})
    write(client, "PUT", "/nodes/pve2/qemu/101/config", {"ciuser": "admin", "cipassword": CIPASSWORD,
                                                          "sshkeys": quote(SSH_KEY, safe="")})
    write(client, "PUT", "/nodes/pve1/qemu/100/config", {"description": "web server"})
    for snapshot in ("before-upgrade", "after-upgrade"):
        write(client, "POST", "/nodes/pve1/qemu/100/snapshot", {"snapname": snapshot, "description": snapshot})
    write(client, "POST", "/nodes/pve1/lxc/200/snapshot", {"snapname": "clean"})
    write(client, "POST", "/nodes/pve1/qemu/100/config", {"memory": "4096"})  # pending until a reboot
    write(client, "PUT", "/cluster/firewall/options", {"enable": "1", "policy_in": "DROP"})
    write(client, "POST", "/cluster/firewall/aliases", {"name": "office", "cidr": "198.51.100.0/24"})
    write(client, "POST", "/cluster/firewall/ipset", {"name": "blocked", "comment": "bad actors"})
    write(client, "POST", "/cluster/firewall/ipset/blocked", {"cidr": "203.0.113.7"})
    write(client, "POST", "/cluster/firewall/groups", {"group": "webgroup"})
    write(client, "POST", "/cluster/firewall/groups/webgroup", {"type": "in", "action": "ACCEPT", "dport": "443",
                                                                 "proto": "tcp", "enable": "1"})
    write(client, "POST", "/cluster/firewall/rules", {"type": "in", "action": "ACCEPT", "source": "+blocked",
                                                       "enable": "0"})
    write(client, "POST", "/cluster/firewall/rules", {"type": "group", "action": "webgroup", "enable": "1"})
    write(client, "PUT", "/nodes/pve1/qemu/100/firewall/options", {"enable": "1"})
    write(client, "POST", "/nodes/pve1/qemu/100/firewall/rules", {"type": "in", "action": "ACCEPT", "dport": "80",
                                                                   "proto": "tcp", "enable": "1"})
    write(client, "POST", "/nodes/pve1/qemu/100/firewall/aliases", {"name": "backend", "cidr": "10.0.0.0/8"})
    write(client, "POST", "/nodes/pve1/qemu/100/firewall/ipset", {"name": "trusted"})
    write(client, "POST", "/nodes/pve1/qemu/100/firewall/ipset/trusted", {"cidr": "10.1.2.3", "comment": "admin"})
    write(client, "POST", "/cluster/sdn/controllers", {"controller": "evpn1", "type": "evpn", "asn": "65000",
                                                       "peers": "192.0.2.11,192.0.2.12"})
    write(client, "POST", "/cluster/mapping/dir", {"id": "share", "map": "node=pve1,path=/srv/share"})
    write(client, "POST", "/cluster/replication", {"id": "100-0", "type": "local", "target": "pve2",
                                                   "schedule": "*/15"})
    write(client, "POST", "/cluster/sdn/zones", {"zone": "zone1", "type": "simple"})
    write(client, "POST", "/cluster/sdn/vnets", {"vnet": "vnet1", "zone": "zone1"})
    write(client, "POST", "/cluster/sdn/vnets/vnet1/subnets", {"subnet": "10.10.0.0/24", "type": "subnet",
                                                                "gateway": "10.10.0.1"})
    write(client, "PUT", "/cluster/sdn")  # applied: vnet1 is a bridge of every node now
    write(client, "POST", "/cluster/sdn/zones", {"zone": "zone2", "type": "vlan", "bridge": "vmbr0"})  # pending
    write(client, "POST", "/cluster/ha/resources", {"sid": "vm:100", "comment": "web"})
    write(client, "POST", "/cluster/ha/rules", {"rule": "web-on-pve1", "type": "node-affinity",
                                                "resources": "vm:100", "nodes": "pve1"})
    write(client, "POST", "/cluster/backup", {"schedule": "daily", "storage": "nfs-shared", "vmid": "100,200",
                                              "mode": "snapshot"})
    write(client, "POST", "/cluster/replication", {"id": "101-0", "type": "local", "target": "pve1"})
    write(client, "POST", "/cluster/metrics/server/influx1", {"type": "influxdb", "server": "192.0.2.60",
                                                              "port": "8086", "token": INFLUX_TOKEN})
    write(client, "POST", "/cluster/notifications/endpoints/gotify", {"name": "phone", "server": "https://gotify.example",
                                                                      "token": GOTIFY_TOKEN})
    write(client, "PUT", "/cluster/options", {"keyboard": "de", "description": "lab cluster"})
    write(client, "PUT", "/nodes/pve2/dns", {"search": "lab.example", "dns1": "192.0.2.53"})
    auditor_token = write(client, "POST", "/access/users/auditor@pve/token/capture", {"privsep": "0"})
    made.append(auditor_token["value"])
    return made


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    return statedir.certificate(tmp_path_factory.mktemp("tls"))


@contextlib.contextmanager
def served(certificate: tuple[Path, Path, str], recording: list[str] | None = None,
           **options: Any) -> Iterator[tuple[str, httpx.Client]]:
    cert, key, _ = certificate
    door = Recording(mock_gateway(secret=b"capture-test", **options))
    if recording is not None:
        door.methods = recording
    with live_server(door, certfile=str(cert), keyfile=str(key)) as url, \
            httpx.Client(base_url=url, verify=ssl.create_default_context(cafile=str(cert)), timeout=30) as client:
        yield url, client


@pytest.fixture(scope="module")
def source(certificate: tuple[Path, Path, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Source]:
    seed = tmp_path_factory.mktemp("seed") / "source.json"
    seed.write_text(json.dumps(SEED))
    methods: list[str] = []
    with served(certificate, methods, seed=seed, root_password=ROOT_PASSWORD) as (url, client):
        login(client, "root@pam", ROOT_PASSWORD)
        yield Source(url, str(certificate[0]), client, prepare(client), methods)


def capture(source: Source, directory: Path, *, token: str,
            extra: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    """The command line, as a user runs it (the token from a file, the node's CA)."""
    token_file = directory / "token"
    token_file.write_text(token)
    password_file = directory / "users-password"
    password_file.write_text(COPY_PASSWORD)
    return subprocess.run(  # nosec B603 # our own CLI, fixed arguments
        [sys.executable, "-m", "pvegateway.cli", "seed", "capture", "--from", source.url, "--token-file",
         str(token_file), "--ca", source.certificate, "--users-password-file", str(password_file),
         "--output", str(directory / "cluster.json"), *extra],
        capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def captured(source: Source, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, list[str]]:
    """The capture through the read-only (PVEAuditor) token: the file, what the command said, and the
    requests the source received meanwhile."""
    directory = tmp_path_factory.mktemp("capture")
    already = len(source.methods)
    done = capture(source, directory, token=f"auditor@pve!capture={source.secrets[-1]}")
    assert done.returncode == 0, done.stderr
    return directory / "cluster.json", done.stderr, source.methods[already:]


def volumes(source: Source) -> int:
    """The source's volumes as its API lists them (a shared storage's once)."""
    count = 0
    for storage in source.client.get("/api2/json/storage").json()["data"]:
        nodes = ["pve1"] if storage["storage"] == "nfs-shared" else ["pve1", "pve2", "pve3"]
        for node in nodes:
            listed = source.client.get(f"/api2/json/nodes/{node}/storage/{storage['storage']}/content")
            count += len(listed.json()["data"])
    return count


def test_a_capture_reads_and_never_writes(source: Source, captured: tuple[Path, str, list[str]]) -> None:
    _, said, requests = captured
    assert len(requests) > 100
    assert {r.split(" ", 1)[0] for r in requests} == {"GET"}, [r for r in requests if not r.startswith("GET")]
    # progress per area on stderr, and what the read-only token could not read, said
    for line in ("capture: nodes: 3 node(s)", f"capture: storage: 4 storage(s), {volumes(source)} volume(s)",
                 "capture: guests: 3 guest(s), 3 snapshot(s)", "capture: pools: 1 pool(s)",
                 "capture: ha: 1 HA resource(s)"):
        assert line in said, said
    # PVEAuditor lacks Sys.Modify, which ACME plugins need (pve-manager PVE/API2/ACMEPlugin.pm index)
    assert "not readable with these credentials" in said and "/cluster/acme/plugins" in said


def test_no_secret_of_the_source_reaches_the_file(source: Source, captured: tuple[Path, str, list[str]]) -> None:
    text = captured[0].read_text()
    for secret in (*PLANTED, *source.secrets):
        assert secret not in text and quote(secret, safe="") not in text, secret
    seed = json.loads(text)
    # the copy's own: every user logs in with the password the capture was given, tokens have new secrets
    assert {u["password"] for u in seed["users"]} == {COPY_PASSWORD} == {seed["root_password"]}
    tokens = {f"{u['userid']}!{t['tokenid']}": t["secret"] for u in seed["users"] for t in u["tokens"]}
    assert set(tokens) == {"alice@pve!ci", "auditor@pve!capture"}
    assert not set(tokens.values()) & set(source.secrets)


def test_the_copy_is_the_cluster_captured(captured: tuple[Path, str, list[str]]) -> None:
    seed = json.loads(captured[0].read_text())
    guests = {g["vmid"]: g for g in seed["guests"]}
    assert [s["name"] for s in guests[100]["snapshots"]] == ["before-upgrade", "after-upgrade"]
    assert guests[100]["parent"] == "after-upgrade" and guests[100]["pending"] == {"memory": "4096"}
    assert guests[100]["config"]["memory"] == "2048" and guests[100]["pool"] == "prod"
    assert "cipassword" not in guests[101]["config"] and "sshkeys" not in guests[101]["config"]
    assert guests[101]["config"]["ciuser"] == "admin"
    versions = {n["name"]: n.get("version") for n in seed["nodes"]}
    assert versions["pve2"] == "9.1.11" and versions["pve1"] == versions["pve3"] != "9.1.11"
    store = seed["store"]
    assert [r.get("action") for r in store["lists"]["/cluster/firewall/rules"]] == ["webgroup", "ACCEPT"]
    assert store["sections"]["/cluster/sdn/vnets/vnet1/subnets"] == {
        "zone1-10.10.0.0-24": {"type": "subnet", "gateway": "10.10.0.1", "vnet": "vnet1"}}
    assert "token" not in store["sections"]["/cluster/metrics/server"]["influx1"]
    assert "password" not in store["sections"]["/access/domains"]["corp"]


def test_a_capture_by_user_and_password_reads_what_root_may(source: Source, tmp_path: Path) -> None:
    password_file = tmp_path / "password"
    password_file.write_text(ROOT_PASSWORD)
    done = capture(source, tmp_path, token="unused", extra=("--user", "root@pam", "--password-file",
                                                            str(password_file)))
    assert done.returncode == 0, done.stderr
    assert "not readable" not in done.stderr
    assert ROOT_PASSWORD not in (tmp_path / "cluster.json").read_text()


def test_redact_replaces_names_everywhere_and_the_copy_still_serves(
        source: Source, tmp_path: Path, certificate: tuple[Path, Path, str]) -> None:
    done = capture(source, tmp_path, token=f"auditor@pve!capture={source.secrets[-1]}",
                   extra=("--redact", r"pve[0-9]", "--redact", r"192\.0\.2\.[0-9]+", "--redact", "web01"))
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "cluster.json").read_text()
    assert "pve1" not in text and "192.0.2." not in text and "web01" not in text
    with served(certificate, seed=tmp_path / "cluster.json") as (_, copy):
        login(copy, "root@pam", COPY_PASSWORD)
        nodes = sorted(n["node"] for n in copy.get("/api2/json/nodes").json()["data"])
        assert nodes == ["redacted1", "redacted2", "redacted3"] or all(n.startswith("redacted") for n in nodes)
        guest = next(r for r in copy.get("/api2/json/cluster/resources").json()["data"] if r.get("vmid") == 100)
        assert guest["name"].startswith("redacted") and guest["node"].startswith("redacted")
        config = copy.get(f"/api2/json/nodes/{guest['node']}/qemu/100/config").json()["data"]
        assert config["scsi0"] == "local-lvm:vm-100-disk-0,size=32G,replicate=0"


def test_a_node_that_cannot_be_trusted_is_not_read(source: Source, tmp_path: Path) -> None:
    """TLS is verified as in proxy mode: without the cluster's CA the capture stops, having sent nothing."""
    token_file = tmp_path / "token"
    token_file.write_text(f"auditor@pve!capture={source.secrets[-1]}")
    done = subprocess.run(  # nosec B603 # our own CLI, fixed arguments
        [sys.executable, "-m", "pvegateway.cli", "seed", "capture", "--from", source.url, "--token-file",
         str(token_file)], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1 and "capture failed" in done.stderr and "certificate" in done.stderr, done.stderr
    assert source.secrets[-1] not in done.stderr


# --- the copy answers as the source --------------------------------------------------------------------

def client_gets() -> list[str]:
    usage = json.loads((Path(__file__).parents[2] / "docs" / "client-usage.json").read_text())
    return sorted(o["op"].split(" ", 1)[1] for o in usage["operations"] if o["op"].startswith("GET "))


def _pick(items: Any, param: str) -> str | None:
    """The first listed item's id for ``param`` (a snapshot other than ``current``)."""
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        for key in (param, "name", "id", "volid"):
            if item.get(key) is not None and item.get(key) != "current":
                return str(item[key])
    return None


def fill(client: httpx.Client, template: str) -> str | None:
    """``template`` with each parameter an object the cluster lists under its parent; None if it has none."""
    path = ""
    for segment in template.strip("/").split("/"):
        if segment.startswith("{"):
            param = segment[1:-1]
            if param == "pos":
                value: str | None = "0"
            else:
                listed = client.get("/api2/json" + path)
                value = _pick(listed.json().get("data"), param) if listed.status_code == 200 else None
            if value is None:
                return None
            segment = quote(value, safe="")
        path += "/" + segment
    return path


def _required_query(template: str, schema_ops: dict[str, Any]) -> dict[str, str] | None:
    op = schema_ops[template]
    query: dict[str, str] = {}
    for name, spec in (op.parameters.get("properties") or {}).items():
        if name in op.path_params or spec.get("optional") in (1, "1", True):
            continue
        if spec.get("enum"):
            query[name] = str(spec["enum"][0])
        else:
            return None
    return query


def normal(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: normal(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [normal(v) for v in value]
    return value


def difference(a: Any, b: Any, where: str = "") -> str | None:
    """Where two answers first differ, and how."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                return f"{where}/{key}: {a.get(key, '(absent)')!r} != {b.get(key, '(absent)')!r}"
            found = difference(a[key], b[key], f"{where}/{key}")
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{where}: {len(a)} items != {len(b)}: {json.dumps(a)[-300:]} != {json.dumps(b)[-300:]}"
        for index, (x, y) in enumerate(zip(a, b, strict=True)):
            found = difference(x, y, f"{where}/{index}")
            if found:
                return found
        return None
    return None if a == b else f"{where}: {json.dumps(a)[:200]} != {json.dumps(b)[:200]}"


def test_the_copy_answers_every_client_get_as_the_source(source: Source, captured: tuple[Path, str, list[str]],
                                                         certificate: tuple[Path, Path, str]) -> None:
    from pvegateway.apidoc.schema import load_schema

    ops = {op.path: op for op in load_schema("9.2").operations if op.method == "GET"}
    compared, differ = 0, []
    with served(certificate, seed=captured[0]) as (_, copy):  # the file as `serve --seed` loads it
        login(copy, "root@pam", COPY_PASSWORD)
        for template in client_gets():
            if any(part in template for part in NOT_CAPTURED):
                continue
            path = fill(source.client, template)
            query = _required_query(template, ops)
            if path is None or query is None:
                continue
            first = source.client.get("/api2/json" + path, params=query)
            second = copy.get("/api2/json" + path, params=query)
            compared += 1
            a = [first.status_code, normal(first.json().get("data"))]
            b = [second.status_code, normal(second.json().get("data"))]
            if a != b:
                differ.append(f"GET {path}: {difference(a, b)}")
        for node in ("pve1", "pve2", "pve3"):  # every node's version, not just the first one's
            first, second = (c.get(f"/api2/json/nodes/{node}/version") for c in (source.client, copy))
            compared += 1
            if first.json() != second.json():
                differ.append(f"GET /nodes/{node}/version: {difference(first.json(), second.json())}")
        for path in ("/cluster/sdn/zones", "/cluster/sdn/vnets"):  # SDN's pending and running state too
            for view in ("pending", "running"):
                query = {view: "1"}
                first, second = source.client.get("/api2/json" + path, params=query), \
                    copy.get("/api2/json" + path, params=query)
                compared += 1
                if first.json() != second.json():
                    differ.append(f"GET {path}?{query}: {difference(first.json(), second.json())}")
    assert not differ, f"{len(differ)} of {compared}:\n" + "\n".join(differ)
    assert compared >= 132, compared  # of 142: tasks are not captured; an ACME account, Ceph, ZFS are absent
