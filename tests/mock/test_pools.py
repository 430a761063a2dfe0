"""Resource pools (pve-manager API2/Pool.pm), including 9.x's PUT/DELETE /pools with a poolid parameter."""

from __future__ import annotations

from tests.mock.conftest import PVE


async def test_pool_lifecycle_and_members(pve: PVE) -> None:
    await pve.data("POST", "/pools", {"poolid": "web", "comment": "frontends"})
    duplicate = await pve.post("/pools", {"poolid": "web"})
    assert duplicate.status_code == 500
    assert duplicate.json()["message"] == "create pool failed: pool 'web' already exists\n"
    await pve.data("PUT", "/pools/web", {"vms": "100,200", "storage": "local-lvm"})
    pool = await pve.data("GET", "/pools/web")
    assert pool["comment"] == "frontends"
    by_id = {m["id"]: m for m in pool["members"]}
    assert by_id["qemu/100"]["node"] == "pve1" and by_id["qemu/100"]["type"] == "qemu"
    assert by_id["lxc/200"]["type"] == "lxc" and by_id["lxc/200"]["vmid"] == 200
    assert by_id["storage/pve1/local-lvm"]["storage"] == "local-lvm"
    qemu_only = await pve.data("GET", "/pools/web", {"type": "qemu"})
    assert [m["id"] for m in qemu_only["members"]] == ["qemu/100"]
    assert pve.backend.mock.cluster.guests[100].pool == "web"
    assert await pve.data("GET", "/pools") == [{"poolid": "web", "comment": "frontends"}]
    listed = await pve.data("GET", "/pools", {"poolid": "web"})
    assert len(listed[0]["members"]) == len(pool["members"])


async def test_a_vm_belongs_to_one_pool(pve: PVE) -> None:
    await pve.data("POST", "/pools", {"poolid": "a"})
    await pve.data("POST", "/pools", {"poolid": "b"})
    await pve.data("PUT", "/pools/a", {"vms": "100"})
    refused = await pve.put("/pools/b", {"vms": "100"})
    assert refused.status_code == 500
    assert "belongs already to pool 'a'" in refused.json()["message"]
    await pve.data("PUT", "/pools/b", {"vms": "100", "allow-move": "1"})
    assert (await pve.data("GET", "/pools/a"))["members"] == []
    assert [m["vmid"] for m in (await pve.data("GET", "/pools/b"))["members"]] == [100]


async def test_failed_update_changes_nothing(pve: PVE) -> None:
    await pve.data("POST", "/pools", {"poolid": "web"})
    await pve.data("POST", "/pools", {"poolid": "db"})
    await pve.data("PUT", "/pools/db", {"vms": "101"})
    # pve-manager PVE/API2/Pool.pm:343-345: VM 101 is db's, and 'allow-move' is not set
    response = await pve.put("/pools/web", {"vms": "100,101", "comment": "changed"})
    assert response.status_code == 500
    pool = await pve.data("GET", "/pools/web")
    assert pool == {"members": []}


async def test_delete_members_then_pool(pve: PVE) -> None:
    await pve.data("POST", "/pools", {"poolid": "web"})
    await pve.data("PUT", "/pools/web", {"vms": "100"})
    busy = await pve.delete("/pools/web")
    assert busy.status_code == 500
    # pve-manager PVE/API2/Pool.pm:519
    assert busy.json()["message"] == "delete pool failed: pool 'web' is not empty (contains VM 100)\n"
    await pve.data("PUT", "/pools/web", {"vms": "100", "delete": "1"})
    assert pve.backend.mock.cluster.guests[100].pool is None
    await pve.data("DELETE", "/pools/web")
    missing = await pve.get("/pools/web")
    assert missing.json()["message"] == "pool 'web' does not exist\n"


async def test_new_style_pool_routes(pve: PVE) -> None:
    await pve.data("POST", "/pools", {"poolid": "ci"})
    await pve.data("PUT", "/pools", {"poolid": "ci", "vms": "101", "comment": "runners"})
    assert (await pve.data("GET", "/pools", {"poolid": "ci"}))[0]["members"][0]["id"] == "qemu/101"
    await pve.data("PUT", "/pools", {"poolid": "ci", "vms": "101", "delete": "1"})
    await pve.data("DELETE", "/pools", {"poolid": "ci"})
    assert await pve.data("GET", "/pools") == []
