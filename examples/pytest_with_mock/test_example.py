"""Testing your own Proxmox automation against a mock PVE cluster: pytest + proxmoxer, no PVE needed.

``pip install pvegateway`` registers the ``pve_mock`` fixture; each test gets a fresh cluster (nodes
pve1..pve3, VMs 100 and 101, CT 200) on its own port. Run: ``pytest examples/pytest_with_mock``.
"""

from __future__ import annotations

from typing import Any

import pytest
from proxmoxer import ProxmoxAPI, ResourceException
from proxmoxer.tools import Tasks

from pvegateway.testing import PVEMock

pytestmark = pytest.mark.pve_mock(tls=True)  # proxmoxer speaks https only


# --- the code under test: normally imported from your project ----------------------------------------


def wait(prox: Any, upid: str) -> None:
    status = Tasks.blocking_status(prox, upid, timeout=60, polling_interval=0.05)
    if status is None or status["exitstatus"] != "OK":
        raise RuntimeError(f"task {upid} failed: {status}")


def provision(prox: Any, node: str, name: str, memory: int = 1024) -> int:
    """Create a VM with the next free id, start it, and return its id."""
    vmid = int(prox.cluster.nextid.get())
    wait(prox, prox.nodes(node).qemu.post(vmid=vmid, name=name, memory=memory, cores=1,
                                          net0="virtio,bridge=vmbr0", scsi0="local-lvm:8"))
    wait(prox, prox.nodes(node).qemu(vmid).status.start.post())
    return vmid


def decommission(prox: Any, node: str, vmid: int) -> None:
    vm = prox.nodes(node).qemu(vmid)
    if vm.status.current.get()["status"] == "running":
        wait(prox, vm.status.stop.post())
    wait(prox, vm.delete())


# --- the tests -----------------------------------------------------------------------------------------


@pytest.fixture
def prox(pve_mock: PVEMock) -> Any:
    return ProxmoxAPI(pve_mock.host, port=pve_mock.port, user=pve_mock.user, password=pve_mock.password,
                      verify_ssl=pve_mock.verify)


def test_provision_creates_and_starts_a_vm(prox: Any, pve_mock: PVEMock) -> None:
    vmid = provision(prox, "pve2", "web02")
    assert prox.nodes("pve2").qemu(vmid).status.current.get()["status"] == "running"
    guest = pve_mock.control.cluster.guests[vmid]  # or look behind the API's back
    assert guest.config["name"] == "web02" and guest.node == "pve2"


def test_decommission_removes_the_vm(prox: Any) -> None:
    vmid = provision(prox, "pve1", "tmp")
    decommission(prox, "pve1", vmid)
    with pytest.raises(ResourceException) as gone:
        prox.nodes("pve1").qemu(vmid).status.current.get()
    assert gone.value.status_code == 500 and "does not exist" in gone.value.content


def test_provision_survives_slow_tasks(prox: Any, pve_mock: PVEMock) -> None:
    pve_mock.control.set_tasks("polls:3")  # every task runs for three status reads
    vmid = provision(prox, "pve1", "slow")
    assert prox.nodes("pve1").qemu(vmid).status.current.get()["status"] == "running"


def test_bad_input_is_reported_like_pve(prox: Any) -> None:
    with pytest.raises(ResourceException) as bad:
        provision(prox, "pve1", "x", memory=-1)
    assert bad.value.status_code == 400 and "memory" in bad.value.errors
