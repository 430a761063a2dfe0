"""Snapshots (both kinds): create, list with the "current" entry, config, rollback, delete with re-parenting."""

from __future__ import annotations

from tests.mock.conftest import PVE

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
    response = await pve.post(f"{VM}/snapshot", {"snapname": "first1"})
    assert response.status_code == 500 and response.json()["message"] == "snapshot name 'first1' already used\n"
    assert (await pve.data("GET", f"{VM}/snapshot/first1/config"))["cores"] == "4"
    await pve.data("PUT", f"{VM}/snapshot/first1/config", {"description": "changed"})
    await pve.data("POST", f"{VM}/snapshot/first1/rollback")
    config = await pve.data("GET", f"{VM}/config")
    assert config["cores"] == 4 and config["parent"] == "first1"
    await pve.data("DELETE", f"{VM}/snapshot/first1")
    rows = {r["name"]: r for r in await pve.data("GET", f"{VM}/snapshot")}
    assert "first1" not in rows and "parent" not in rows["second"] and "parent" not in rows["current"]
    response = await pve.delete(f"{VM}/snapshot/zzz")
    assert response.json()["message"] == "snapshot 'zzz' does not exist\n"


async def test_container_snapshot(pve: PVE) -> None:
    assert ":vzsnapshot:200:" in await pve.data("POST", "/nodes/pve1/lxc/200/snapshot", {"snapname": "s1"})
    rows = await pve.data("GET", "/nodes/pve1/lxc/200/snapshot")
    assert [r["name"] for r in rows] == ["s1", "current"]
