"""Snapshots (both kinds): create, list with the "current" entry, config, rollback, delete with re-parenting."""

from __future__ import annotations

from tests.mock.conftest import PVE
from tests.mock.test_qemu import task_status

VM = "/nodes/pve2/qemu/101"


async def test_snapshot_tree_rollback_and_delete(pve: PVE) -> None:
    upid = await pve.data("POST", f"{VM}/snapshot", {"snapname": "first1", "description": "first"})
    assert ":qmsnapshot:101:" in upid
    await pve.data("PUT", f"{VM}/config", {"cores": "8"})
    await pve.data("POST", f"{VM}/snapshot", {"snapname": "second"})
    rows = {r["name"]: r for r in await pve.data("GET", f"{VM}/snapshot")}
    assert rows["first1"]["description"] == "first" and "parent" not in rows["first1"]
    assert rows["second"]["parent"] == "first1"
    assert rows["current"]["description"] == "You are here!" and rows["current"]["parent"] == "second"
    # pve-guest-common src/PVE/AbstractConfig.pm:750, in the snapshot worker: the task fails
    upid = await pve.data("POST", f"{VM}/snapshot", {"snapname": "first1"})
    assert (await task_status(pve, upid))["exitstatus"] == "snapshot name 'first1' already used"
    assert (await pve.data("GET", f"{VM}/snapshot/first1/config"))["cores"] == "4"
    await pve.data("PUT", f"{VM}/snapshot/first1/config", {"description": "changed"})
    await pve.data("POST", f"{VM}/snapshot/first1/rollback")
    config = await pve.data("GET", f"{VM}/config")
    assert config["cores"] == 4 and config["parent"] == "first1"
    await pve.data("DELETE", f"{VM}/snapshot/first1")
    rows = {r["name"]: r for r in await pve.data("GET", f"{VM}/snapshot")}
    assert "first1" not in rows and "parent" not in rows["second"] and "parent" not in rows["current"]
    upid = await pve.data("DELETE", f"{VM}/snapshot/zzz")  # AbstractConfig.pm:930, in the worker
    assert (await task_status(pve, upid))["exitstatus"] == "snapshot 'zzz' does not exist"


async def test_container_snapshot(pve: PVE) -> None:
    assert ":vzsnapshot:200:" in await pve.data("POST", "/nodes/pve1/lxc/200/snapshot", {"snapname": "s1"})
    rows = await pve.data("GET", "/nodes/pve1/lxc/200/snapshot")
    assert [r["name"] for r in rows] == ["s1", "current"]
