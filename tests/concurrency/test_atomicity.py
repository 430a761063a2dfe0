"""A request that fails, in validation or midway through its checks, changes nothing: the cluster
dumped before and after is identical (guests, volumes, MAC and PID counters, pools, ACLs, tasks),
also when many such requests run at once next to requests that succeed."""

from __future__ import annotations

import asyncio
from typing import Any

from pvegateway.testing import PVEMock
from tests.concurrency.conftest import Client

TEMPLATE = "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"
DISK_THEN_BAD: dict[str, Any] = {"scsi0": "local-lvm:1", "net0": "virtio,bridge=vmbr0"}

# (method, path, params, status): each passes some checks, allocates or plans something, then fails
FAILING: list[tuple[str, str, dict[str, Any], int]] = [
    ("POST", "/nodes/pve1/qemu", {"vmid": 400, **DISK_THEN_BAD, "net1": "bogus,bridge=vmbr0"}, 400),
    ("POST", "/nodes/pve1/qemu", {"vmid": 400, **DISK_THEN_BAD, "scsi1": "nosuch:1"}, 500),
    ("POST", "/nodes/pve1/qemu", {"vmid": 400, **DISK_THEN_BAD, "ide2": "local:iso/missing.iso,media=cdrom"}, 500),
    # a missing pool is a permission error (pve-access-control RPCEnvironment.pm:385 check_pool_exist)
    ("POST", "/nodes/pve1/qemu", {"vmid": 400, **DISK_THEN_BAD, "pool": "nopool"}, 403),
    ("POST", "/nodes/pve1/qemu", {"vmid": 100, **DISK_THEN_BAD}, 500),
    ("POST", "/nodes/nonode/qemu", {"vmid": 400, **DISK_THEN_BAD}, 500),
    ("POST", "/nodes/pve1/qemu", {"vmid": 400, "scsi0": "local-lvm:1", "memory": "lots"}, 400),
    ("POST", "/nodes/pve1/lxc", {"vmid": 401, "ostemplate": "local:vztmpl/missing.tar.zst", "rootfs": "local-lvm:1",
                                 "net0": "name=eth0,bridge=vmbr0"}, 500),
    ("POST", "/nodes/pve1/lxc", {"vmid": 401, "ostemplate": TEMPLATE, "rootfs": "local-lvm:0"}, 500),
    ("POST", "/nodes/pve1/lxc", {"vmid": 401, "ostemplate": TEMPLATE, "storage": "local-lvm",
                                 "mp0": "nosuch:1,mp=/srv"}, 500),
    ("PUT", "/nodes/pve2/qemu/101/config", {"scsi1": "local-lvm:2", "net1": "bogus"}, 400),
    ("PUT", "/nodes/pve2/qemu/101/config", {"scsi1": "local-lvm:2", "delete": "nosuchoption"}, 400),
    ("PUT", "/nodes/pve2/qemu/101/config", {"scsi1": "local-lvm:2", "digest": "0" * 40}, 500),
    ("POST", "/nodes/pve2/qemu/101/config", {"scsi1": "local-lvm:2", "scsi2": "nosuch:2"}, 500),
    # pve-container src/PVE/LXC/Config.pm:1320-1321: a plain die under the config lock
    ("PUT", "/nodes/pve1/lxc/200/config", {"mp0": "local-lvm:1,mp=/srv", "delete": "rootfs"}, 500),
    ("POST", "/nodes/pve2/qemu/101/clone", {"newid": 100}, 500),
    ("POST", "/nodes/pve2/qemu/101/clone", {"newid": 402, "full": 0}, 500),
    ("POST", "/nodes/pve2/qemu/101/clone", {"newid": 402, "target": "pve3"}, 500),
    ("POST", "/nodes/pve2/qemu/101/clone", {"newid": 402, "snapname": "nosnap"}, 500),
    # (QEMU's resize checks fail its task instead, qemu-server Qemu.pm:6001-6048: tests/mock/test_worker_errors.py)
    ("PUT", "/nodes/pve1/lxc/200/resize", {"disk": "rootfs", "size": "1G"}, 500),
    ("DELETE", "/nodes/pve1/qemu/100", {}, 500),
    ("POST", "/nodes/pve1/qemu/100/migrate", {"target": "pve1"}, 400),
    ("POST", "/nodes/pve1/qemu/100/snapshot", {"snapname": "current"}, 500),
    ("PUT", "/pools", {"poolid": "nopool", "vms": "100"}, 500),
    ("PUT", "/access/acl", {"path": "/vms/100", "roles": "PVEVMUser", "users": "root@pam,nobody@pve"}, 500),
    ("PUT", "/access/acl", {"path": "/vms/100", "roles": "PVEVMUser,NoRole", "users": "root@pam"}, 500),
    ("POST", "/access/users", {"userid": "new@pve", "groups": "nogroup"}, 500),
    ("POST", "/nodes/pve1/storage/local-lvm/content", {"vmid": 100, "filename": "vm-100-disk-0", "size": "1G"}, 500),
]


def _state(mock: PVEMock) -> dict[str, Any]:
    return mock.control.dump()


async def test_each_failing_request_changes_nothing(mock: PVEMock, client: Client) -> None:
    for method, path, params, status in FAILING:
        before = _state(mock)
        answer = await client.call(method, path, params)
        assert answer.status == status, (method, path, params, answer.body)
        assert _state(mock) == before, (method, path, params, answer.body)


async def test_failing_requests_in_a_crowd_change_nothing(mock: PVEMock, client: Client) -> None:
    """Every failing request twice at once, next to readers: the state afterwards equals the start."""
    before = _state(mock)
    reads: list[tuple[str, str, dict[str, Any], int]] = [
        ("GET", "/cluster/resources", {}, 200), ("GET", "/nodes/pve2/qemu/101/config", {}, 200)] * 8
    calls = [*FAILING, *FAILING, *reads]
    answers = await asyncio.gather(*(client.call(m, p, d) for m, p, d, _ in calls))
    assert [a.status for a in answers] == [s for *_, s in calls]
    assert _state(mock) == before
