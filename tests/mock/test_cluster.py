"""Cluster views computed from the state at every moment: resources, nextid, status, HA resources."""

from __future__ import annotations

from tests.mock.conftest import PVE


async def test_resources_list_guests_nodes_storages(pve: PVE) -> None:
    data = await pve.data("GET", "/cluster/resources")
    by_id = {r["id"]: r for r in data}
    web = by_id["qemu/100"]
    assert web["name"] == "web01" and web["node"] == "pve1" and web["status"] == "running"
    assert web["maxmem"] == 2048 * 1024**2 and web["maxdisk"] == 32 * 1024**3 and web["template"] == 0
    assert by_id["lxc/200"]["type"] == "lxc" and by_id["lxc/200"]["maxdisk"] == 8 * 1024**3
    assert by_id["node/pve2"]["status"] == "online"
    lvm = by_id["storage/pve1/local-lvm"]
    assert lvm["plugintype"] == "lvmthin" and lvm["disk"] == 40 * 1024**3 and lvm["shared"] == 0
    vms = await pve.data("GET", "/cluster/resources", {"type": "vm"})
    assert {r["vmid"] for r in vms} == {100, 101, 200}


async def test_resources_follow_the_state_at_once(pve: PVE) -> None:
    pve.backend.mock.cluster.guests.pop(101)
    await pve.data("POST", "/cluster/ha/resources", {"sid": "100"})
    data = {r["id"]: r for r in await pve.data("GET", "/cluster/resources", {"type": "vm"})}
    assert "qemu/101" not in data and data["qemu/100"]["hastate"] == "started"
    assert await pve.data("GET", "/cluster/nextid") == "101"


async def test_nextid_with_a_taken_vmid(pve: PVE) -> None:
    assert await pve.data("GET", "/cluster/nextid") == "102"
    assert await pve.data("GET", "/cluster/nextid", {"vmid": 555}) == "555"
    response = await pve.get("/cluster/nextid", {"vmid": 100})
    assert response.status_code == 400
    assert response.json()["errors"] == {"vmid": "VM 100 already exists"}


async def test_status_has_cluster_and_nodes(pve: PVE) -> None:
    data = await pve.data("GET", "/cluster/status")
    assert data[0]["type"] == "cluster" and data[0]["nodes"] == 3 and data[0]["quorate"] == 1
    assert [d["name"] for d in data[1:]] == ["pve1", "pve2", "pve3"]


async def test_ha_resource_lifecycle(pve: PVE) -> None:
    assert await pve.data("POST", "/cluster/ha/resources", {"sid": "ct:200", "state": "stopped"}) is None
    assert await pve.data("POST", "/cluster/ha/resources", {"sid": "100"}) is None
    listed = await pve.data("GET", "/cluster/ha/resources")
    assert [r["sid"] for r in listed] == ["ct:200", "vm:100"]
    one = await pve.data("GET", "/cluster/ha/resources/vm:100")
    assert one["state"] == "started" and one["type"] == "vm"
    await pve.data("PUT", "/cluster/ha/resources/100", {"state": "stopped", "comment": "x",
                                                        "digest": one["digest"]})
    assert (await pve.data("GET", "/cluster/ha/resources/vm:100"))["state"] == "stopped"
    stale = await pve.put("/cluster/ha/resources/vm:100", {"comment": "y", "digest": one["digest"]})
    assert stale.status_code == 500
    again = await pve.post("/cluster/ha/resources", {"sid": "vm:100"})
    # pve-ha-manager src/PVE/API2/HA/Resources.pm:218, under lock_ha_domain's prefix (:226)
    assert again.json()["message"] == "create resource failed: resource ID 'vm:100' already defined\n"
    services = [s for s in await pve.data("GET", "/cluster/ha/status/current") if s["type"] == "service"]
    assert {s["sid"] for s in services} == {"vm:100", "ct:200"}
    assert await pve.data("DELETE", "/cluster/ha/resources/vm:100") is None
    assert (await pve.delete("/cluster/ha/resources/vm:100")).status_code == 500


async def test_ha_resource_must_be_an_existing_guest(pve: PVE) -> None:
    missing = await pve.post("/cluster/ha/resources", {"sid": "vm:999"})
    assert missing.status_code == 500
    assert missing.json()["message"] == "resource 'vm:999' does not exist in cluster\n"
    wrong_kind = await pve.post("/cluster/ha/resources", {"sid": "ct:100"})
    assert wrong_kind.status_code == 500
    assert pve.backend.mock.cluster.ha == {}
