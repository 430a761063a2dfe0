"""proxmoxer, unchanged, against the mock over real TLS: the client itself is the oracle.

Each test starts its own server (uvicorn with the gateway's protocol, on a pre-bound socket) with a
self-signed certificate from ``statedir.certificate`` that proxmoxer verifies.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import requests
from proxmoxer import ProxmoxAPI
from proxmoxer.core import ResourceException
from proxmoxer.tools import Tasks

from pvegateway import statedir
from pvegateway.app import Gateway
from pvegateway.backends.mock.backend import MockBackend, MockOptions
from tests.live import live_server
from tests.mock.conftest import schema

ISO = "local:iso/debian-12.9.0-amd64-netinst.iso"
POLL = 0.01  # proxmoxer sleeps this long after every status read (default 1 s)


@dataclass
class Live:
    url: str
    port: int
    cert: str
    backend: MockBackend
    clients: list[Any] = field(default_factory=list)

    def api(self, **kwargs: Any) -> Any:
        """A ProxmoxAPI exactly as a user writes it; root@pam's password unless ``kwargs`` say else."""
        options: dict[str, Any] = {"user": "root@pam", "verify_ssl": self.cert}
        if "token_name" not in kwargs:
            options["password"] = "pvegateway"
        options.update(kwargs)
        prox = ProxmoxAPI("127.0.0.1", port=self.port, **options)
        self.clients.append(prox)
        return prox

    def close(self) -> None:
        """Close the clients' connections: the server's shutdown waits for TLS peers to hang up."""
        for prox in self.clients:
            prox._store["session"].close()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    return statedir.certificate(tmp_path_factory.mktemp("tls"))


@contextlib.contextmanager
def serving(certificate: tuple[Path, Path, str], **options: Any) -> Iterator[Live]:
    loaded = schema("9.2")
    backend = MockBackend(loaded.operations, MockOptions(secret=b"test-secret", **options))
    cert, key, _ = certificate
    with live_server(Gateway(loaded, backend, send_reason=True), certfile=str(cert), keyfile=str(key)) as url:
        server = Live(url, int(url.rsplit(":", 1)[1]), str(cert), backend)
        try:
            yield server
        finally:
            server.close()


@pytest.fixture
def live(certificate: tuple[Path, Path, str]) -> Iterator[Live]:
    with serving(certificate) as server:
        yield server


@pytest.fixture
def live_polled(certificate: tuple[Path, Path, str]) -> Iterator[Live]:
    """Tasks stay running for 3 status reads, so proxmoxer's wait really polls."""
    with serving(certificate, tasks="polls:3") as server:
        yield server


def wait(prox: Any, upid: str) -> dict[str, Any]:
    status: dict[str, Any] = Tasks.blocking_status(prox, upid, timeout=10, polling_interval=POLL)
    assert status is not None, f"task {upid} did not finish"
    return status


def test_login_and_list_nodes(live: Live) -> None:
    prox = live.api()
    ticket, csrf = prox.get_tokens()
    assert ticket.startswith("PVE:root@pam:") and csrf
    assert prox.version.get()["release"] == "9.2"
    nodes = prox.nodes.get()
    assert sorted(n["node"] for n in nodes) == ["pve1", "pve2", "pve3"]
    assert all(n["status"] == "online" for n in nodes)


def test_wrong_password_is_an_authentication_error(live: Live) -> None:
    from proxmoxer import AuthenticationError

    with pytest.raises(AuthenticationError, match="code: 401"):
        live.api(password="wrong")


def test_vm_lifecycle(live_polled: Live) -> None:
    prox = live_polled.api()
    pve1 = prox.nodes("pve1")
    upid = pve1.qemu.post(vmid=150, name="app01", memory=2048, cores=2, net0="virtio,bridge=vmbr0",
                          scsi0="local-lvm:32", ide2=f"{ISO},media=cdrom")
    task = Tasks.decode_upid(upid)
    assert (task["node"], task["type"], task["id"], task["user"]) == ("pve1", "qmcreate", "150", "root@pam")
    done = wait(prox, upid)
    assert done["status"] == "stopped" and done["exitstatus"] == "OK"
    assert 150 in [int(vm["vmid"]) for vm in pve1.qemu.get()]

    config = pve1.qemu(150).config.get()
    assert config["name"] == "app01"
    assert str(config["memory"]) == "2048" and str(config["cores"]) == "2"
    assert config["net0"].startswith("virtio=") and "bridge=vmbr0" in config["net0"]
    assert config["scsi0"] == "local-lvm:vm-150-disk-0,size=32G"
    assert config["ide2"] == f"{ISO},media=cdrom"
    assert len(config["digest"]) == 40

    assert wait(prox, pve1.qemu(150).status.start.post())["exitstatus"] == "OK"
    current = pve1.qemu(150).status.current.get()
    assert current["status"] == "running" and current["name"] == "app01"
    assert int(current["vmid"]) == 150 and current["maxmem"] == 2048 * 1024**2 and current["cpus"] == 2

    snap = pve1.qemu(150).snapshot.post(snapname="before_upgrade", description="pre-upgrade")
    assert Tasks.decode_upid(snap)["type"] == "qmsnapshot"
    assert wait(prox, snap)["exitstatus"] == "OK"
    snapshots = {s["name"]: s for s in pve1.qemu(150).snapshot.get()}
    assert set(snapshots) == {"before_upgrade", "current"}
    assert snapshots["current"]["parent"] == "before_upgrade"

    assert wait(prox, pve1.qemu(150).status.stop.post())["exitstatus"] == "OK"
    assert pve1.qemu(150).status.current.get()["status"] == "stopped"

    destroy = pve1.qemu(150).delete()
    assert Tasks.decode_upid(destroy)["type"] == "qmdestroy"
    assert wait(prox, destroy)["exitstatus"] == "OK"
    assert 150 not in [int(vm["vmid"]) for vm in pve1.qemu.get()]
    with pytest.raises(ResourceException) as gone:
        pve1.qemu(150).status.current.get()
    assert gone.value.status_code == 500 and "does not exist" in gone.value.content


def test_task_log_and_list(live: Live) -> None:
    prox = live.api()
    upid = prox.nodes("pve1").qemu.post(vmid=151, memory=512)
    assert wait(prox, upid)["exitstatus"] == "OK"
    log = prox.nodes("pve1").tasks(upid).log.get()
    assert [line["n"] for line in log] == list(range(1, len(log) + 1))
    assert log[-1]["t"] == "TASK OK"
    assert Tasks.decode_log(log).endswith("TASK OK")
    assert upid in [t["upid"] for t in prox.nodes("pve1").tasks.get()]


def test_cluster_resources_list_a_new_vm(live: Live) -> None:
    prox = live.api()
    wait(prox, prox.nodes("pve2").qemu.post(vmid=152, name="new", memory=1024))
    vms = {int(r["vmid"]): r for r in prox.cluster.resources.get(type="vm")}
    assert {100, 101, 200, 152} <= set(vms)
    assert vms[152]["node"] == "pve2" and vms[152]["name"] == "new" and vms[152]["type"] == "qemu"


def test_api_token_instead_of_tickets(live: Live) -> None:
    root = live.api()
    created = root.access.users("root@pam").token("automation").post(privsep=0, comment="ci")
    assert created["full-tokenid"] == "root@pam!automation"
    value = created["value"]

    prox = live.api(token_name="automation", token_value=value)
    assert prox.get_tokens() == (None, None)
    assert sorted(n["node"] for n in prox.nodes.get()) == ["pve1", "pve2", "pve3"]
    upid = prox.nodes("pve1").qemu.post(vmid=160, memory=512)
    assert ":root@pam!automation:" in upid  # the task runs as the token
    assert wait(prox, upid)["exitstatus"] == "OK"

    with pytest.raises(ResourceException) as refused:
        live.api(token_name="automation", token_value="0" * 36).nodes.get()
    assert refused.value.status_code == 401

    root.access.users("root@pam").token("automation").delete()
    with pytest.raises(ResourceException) as revoked:
        prox.nodes.get()
    assert revoked.value.status_code == 401


def test_ticket_renewal_after_an_hour(live: Live) -> None:
    prox = live.api()
    first, _ = prox.get_tokens()
    clock = live.backend.mock.clock
    clock.advance(3601)  # the mock's tickets are an hour old ...
    prox._backend.auth.birth_time -= 3601  # ... and so is proxmoxer's idea of its ticket (time.monotonic)
    assert prox.nodes.get()  # proxmoxer posts its ticket as the password first
    renewed, _ = prox.get_tokens()
    assert renewed != first and renewed.startswith("PVE:root@pam:")

    clock.advance(3700)  # the first ticket is past PVE's two hours, the renewed one is not
    assert prox.version.get()["release"] == "9.2"
    assert prox.nodes("pve1").qemu.post(vmid=170, memory=512)  # a write: the renewed CSRF token holds
    stale = requests.get(f"{live.url}/api2/json/version", cookies={"PVEAuthCookie": first}, verify=live.cert,
                         timeout=10)
    assert stale.status_code == 401 and stale.reason == "Authentication failed!"


def test_bad_input_is_400_with_the_errors_map(live: Live) -> None:
    prox = live.api()
    with pytest.raises(ResourceException) as bad:
        prox.nodes("pve1").qemu.post(vmid=150, memory="lots", cores=0)
    err = bad.value
    assert err.status_code == 400
    assert err.content == "Parameter verification failed."
    assert set(err.errors) == {"memory", "cores"}
    assert "minimum value of 1" in err.errors["cores"]
    assert "Parameter verification failed." in str(err)
    assert 150 not in live.backend.mock.cluster.guests


def test_python_true_is_refused_like_pve(live: Live) -> None:
    """proxmoxer sends True as 'True', which PVE's boolean type refuses (proxmoxer issue #208)."""
    with pytest.raises(ResourceException) as bad:
        live.api().nodes("pve1").qemu.post(vmid=150, memory=512, onboot=True)
    assert bad.value.status_code == 400
    assert bad.value.errors == {"onboot": "type check ('boolean') failed - got 'True'"}


def test_missing_vm_is_500_does_not_exist(live: Live) -> None:
    with pytest.raises(ResourceException) as missing:
        live.api().nodes("pve1").qemu(999).status.current.get()
    assert missing.value.status_code == 500
    assert "does not exist" in missing.value.content
    assert "does not exist" in str(missing.value)


async def test_aiohttp_401_reason_phrase_is_no_ticket(live: Live) -> None:
    context = ssl.create_default_context(cafile=live.cert)
    async with aiohttp.ClientSession() as session, session.get(f"{live.url}/api2/json/version", ssl=context) as resp:
        assert resp.status == 401
        assert resp.reason == "No ticket"
        assert await resp.read() == b""
        assert resp._protocol is not None
        closed = resp._protocol.closed  # set when the connection, socket and all, is gone
    if closed is not None:
        # the 401 ends the connection: its TLS close finishes on this test's loop, not left to the
        # garbage collector (an unclosed transport's ResourceWarning in whichever test came next)
        await asyncio.wait_for(closed, 10)


def test_guest_agent_exec_and_files(live: Live) -> None:
    """proxmoxer sends exec's ``command`` array as repeated form fields; the agent's answers come back
    as Agent.pm shapes them (exec's own object, file-read's content)."""
    prox = live.api()
    vm = prox.nodes("pve1").qemu(100)
    wait(prox, vm.status.stop.post())
    vm.config.put(agent="1")
    wait(prox, vm.status.start.post())
    pid = vm.agent.exec.post(command=["echo", "over", "the wire"])["pid"]
    assert vm.agent("exec-status").get(pid=pid) == {"exited": 1, "exitcode": 0, "out-data": "over the wire\n"}
    vm.agent("file-write").post(file="/root/a.txt", content="written")
    assert vm.agent("file-read").get(file="/root/a.txt")["content"] == "written"
    assert vm.agent.ping.post() == {"result": {}}
