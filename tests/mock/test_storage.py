"""Storage: config CRUD, per-node status and content."""

from __future__ import annotations

from tests.mock.conftest import PVE

GiB = 1024**3


async def test_config_crud_with_digest(pve: PVE) -> None:
    created = await pve.data("POST", "/storage", {"storage": "nfs1", "type": "nfs", "server": "192.0.2.50",
                                                  "export": "/srv", "content": "images,iso"})
    assert created == {"storage": "nfs1", "type": "nfs"}
    dup = await pve.post("/storage", {"storage": "nfs1", "type": "dir", "path": "/x"})
    assert dup.status_code == 500 and "already defined" in dup.json()["message"]
    one = await pve.data("GET", "/storage/nfs1")
    assert one["content"] == "images,iso" and one["server"] == "192.0.2.50"
    await pve.data("PUT", "/storage/nfs1", {"content": "images", "digest": one["digest"]})
    stale = await pve.put("/storage/nfs1", {"content": "iso", "digest": one["digest"]})
    assert stale.status_code == 500
    assert (await pve.data("GET", "/storage/nfs1"))["content"] == "images"
    assert {s["storage"] for s in await pve.data("GET", "/storage", {"type": "nfs"})} == {"nfs1"}
    shared = {s["storage"]: s for s in await pve.data("GET", "/nodes/pve2/storage")}["nfs1"]
    assert shared["shared"] == 1 and shared["used"] == 0
    assert await pve.data("DELETE", "/storage/nfs1") is None
    missing = await pve.get("/storage/nfs1")
    assert missing.status_code == 500 and missing.json()["message"] == "storage 'nfs1' does not exist\n"


async def test_node_status_and_filters(pve: PVE) -> None:
    data = {s["storage"]: s for s in await pve.data("GET", "/nodes/pve1/storage")}
    lvm = data["local-lvm"]
    assert lvm["used"] == 40 * GiB and lvm["total"] == 400 * GiB and lvm["avail"] == 360 * GiB
    assert lvm["active"] == 1 and lvm["enabled"] == 1 and abs(lvm["used_fraction"] - 0.1) < 1e-9
    images = await pve.data("GET", "/nodes/pve1/storage", {"content": "images"})
    assert [s["storage"] for s in images] == ["local-lvm"]
    status = await pve.data("GET", "/nodes/pve2/storage/local-lvm/status")
    assert status["used"] == 64 * GiB


async def test_content_list_and_volume_info(pve: PVE) -> None:
    content = await pve.data("GET", "/nodes/pve1/storage/local-lvm/content", {"vmid": 100})
    assert [v["volid"] for v in content] == ["local-lvm:vm-100-disk-0"]
    isos = await pve.data("GET", "/nodes/pve1/storage/local/content", {"content": "iso"})
    assert isos[0]["format"] == "iso"
    await pve.data("PUT", "/nodes/pve1/storage/local-lvm/content/local-lvm:vm-100-disk-0",
                   {"notes": "boot disk", "protected": 1})
    info = await pve.data("GET", "/nodes/pve1/storage/local-lvm/content/vm-100-disk-0")
    assert info["notes"] == "boot disk" and info["protected"] == 1 and info["size"] == 32 * GiB


async def test_allocate_then_delete_changes_usage(pve: PVE) -> None:
    volid = await pve.data("POST", "/nodes/pve1/storage/local-lvm/content",
                           {"vmid": 100, "filename": "vm-100-disk-1", "size": "4G"})
    assert volid == "local-lvm:vm-100-disk-1"
    status = await pve.data("GET", "/nodes/pve1/storage/local-lvm/status")
    assert status["used"] == 44 * GiB
    bad = await pve.post("/nodes/pve1/storage/local-lvm/content", {"vmid": 100, "filename": "x", "size": "1G"})
    assert bad.status_code == 500 and "illegal name" in bad.json()["message"]
    upid = await pve.data("DELETE", f"/nodes/pve1/storage/local-lvm/content/{volid}")
    assert upid.startswith("UPID:pve1:")
    assert (await pve.data("GET", "/nodes/pve1/storage/local-lvm/status"))["used"] == 40 * GiB


async def test_delete_of_a_protected_volume_fails_in_the_worker(pve: PVE) -> None:
    """pve-storage src/PVE/API2/Storage/Content.pm:509-521 frees the volume in the imgdel worker, where
    Storage/Plugin.pm:1124 refuses a protected one; a guest's image is no obstacle to the API (the 'Cannot
    remove image' text is the GUI's, pve-manager www/manager6/storage/ImageView.js:48)."""
    volid = "local-lvm:vm-100-disk-0"
    await pve.data("PUT", f"/nodes/pve1/storage/local-lvm/content/{volid}", {"protected": "1"})
    upid = await pve.data("DELETE", f"/nodes/pve1/storage/local-lvm/content/{volid}")
    status = await pve.data("GET", f"/nodes/pve1/tasks/{upid}/status")
    assert status["exitstatus"] == "cannot remove protected volume 'vm-100-disk-0' on 'local-lvm'"
    assert len(await pve.data("GET", "/nodes/pve1/storage/local-lvm/content", {"vmid": 100})) == 1
    await pve.data("PUT", f"/nodes/pve1/storage/local-lvm/content/{volid}", {"protected": "0"})
    upid = await pve.data("DELETE", f"/nodes/pve1/storage/local-lvm/content/{volid}")
    assert (await pve.data("GET", f"/nodes/pve1/tasks/{upid}/status"))["exitstatus"] == "OK"
    assert await pve.data("GET", "/nodes/pve1/storage/local-lvm/content", {"vmid": 100}) == []


