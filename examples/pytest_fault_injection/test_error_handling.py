"""Testing how your automation copes with PVE's errors: fault injection through ``pve_mock.control``.

A transient API error, a task that fails, a node that went offline, a full storage: each made to happen
on purpose, so the error paths of your code run in CI as often as the happy ones.
Run: ``pytest examples/pytest_fault_injection``.
"""

from __future__ import annotations

from typing import Any

import pytest
from proxmoxer import ProxmoxAPI, ResourceException
from proxmoxer.tools import Tasks

from pvegateway.testing import PVEMock

pytestmark = pytest.mark.pve_mock(tls=True)  # proxmoxer speaks https only


# --- the code under test: normally imported from your project ----------------------------------------


class TaskFailed(RuntimeError):
    pass


def wait(prox: Any, upid: str) -> None:
    status = Tasks.blocking_status(prox, upid, timeout=60, polling_interval=0.05)
    if status is None or status["exitstatus"] != "OK":
        raise TaskFailed(status["exitstatus"] if status else f"task {upid} did not end")


def start(prox: Any, node: str, vmid: int, attempts: int = 3) -> None:
    """Start a VM, retrying the API call when PVE answers a server error (5xx) and giving up after
    ``attempts``; a task that fails is not retried: its error says why."""
    for attempt in range(1, attempts + 1):
        try:
            upid = prox.nodes(node).qemu(vmid).status.start.post()
        except ResourceException as err:
            if err.status_code < 500 or attempt == attempts:
                raise
            continue
        wait(prox, upid)
        return


def reachable_nodes(prox: Any) -> list[str]:
    return sorted(n["node"] for n in prox.nodes.get() if n["status"] == "online")


def provision(prox: Any, node: str, vmid: int, storage: str) -> str:
    """Create a VM with one 8 GiB disk; what went wrong, in one line, or 'ok'."""
    try:
        wait(prox, prox.nodes(node).qemu.post(vmid=vmid, scsi0=f"{storage}:8"))
    except TaskFailed as err:
        return f"failed: {err}"
    return "ok"


# --- the tests -----------------------------------------------------------------------------------------


@pytest.fixture
def prox(pve_mock: PVEMock) -> Any:
    return ProxmoxAPI(pve_mock.host, port=pve_mock.port, user=pve_mock.user, password=pve_mock.password,
                      verify_ssl=pve_mock.verify)


def test_start_retries_a_transient_error(prox: Any, pve_mock: PVEMock) -> None:
    # the next two start calls for VM 101 fail as a busy node's API would
    pve_mock.control.fail("POST /nodes/{node}/qemu/{vmid}/status/start", vmid=101, times=2,
                          status=500, message="VM 101 qmp command 'query-status' failed - got timeout")
    start(prox, "pve2", 101)
    assert prox.nodes("pve2").qemu(101).status.current.get()["status"] == "running"


def test_start_gives_up_after_three_errors(prox: Any, pve_mock: PVEMock) -> None:
    pve_mock.control.fail("POST /nodes/{node}/qemu/{vmid}/status/start", status=503, message="busy")
    with pytest.raises(ResourceException) as failed:
        start(prox, "pve2", 101)
    assert failed.value.status_code == 503


def test_a_failed_task_is_reported_not_retried(prox: Any, pve_mock: PVEMock) -> None:
    pve_mock.control.fail_task("POST /nodes/{node}/qemu/{vmid}/status/start", times=1,
                               message="start failed: QEMU exited with code 1")
    with pytest.raises(TaskFailed, match="QEMU exited with code 1"):
        start(prox, "pve2", 101)
    assert prox.nodes("pve2").qemu(101).status.current.get()["status"] == "stopped"


def test_an_offline_node_is_skipped(prox: Any, pve_mock: PVEMock) -> None:
    pve_mock.control.set_online("pve3", False)
    assert reachable_nodes(prox) == ["pve1", "pve2"]
    with pytest.raises(ResourceException) as unreachable:  # what a call to it answers, as pveproxy's
        prox.nodes("pve3").qemu.get()
    assert unreachable.value.status_code == 595


def test_a_full_storage_fails_provisioning_with_pves_reason(prox: Any, pve_mock: PVEMock) -> None:
    pve_mock.control.set_full("local-lvm")
    outcome = provision(prox, "pve1", 150, "local-lvm")
    assert outcome.startswith("failed: unable to create VM 150 - lvcreate") and "thin pool" in outcome
    pve_mock.control.set_full("local-lvm", False)
    assert provision(prox, "pve1", 150, "local-lvm") == "ok"
