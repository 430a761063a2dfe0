"""QEMU guests over the in-process API: create, list, config, power, disks, clone, migrate, destroy."""

from __future__ import annotations

from typing import Any

from tests.mock.conftest import PVE

VM = "/nodes/pve1/qemu"


def volids(pve: PVE, storage: str = "local-lvm") -> set[str]:
    store = pve.backend.mock.cluster.storages[storage]
    return {v for bucket in store.volumes.values() for v in bucket}


async def task_status(pve: PVE, upid: str) -> dict[str, Any]:
    node = upid.split(":")[1]
    status: dict[str, Any] = await pve.data("GET", f"/nodes/{node}/tasks/{upid}/status")
    return status


async def test_create_allocates_disk_mac_and_defaults(pve: PVE) -> None:
    upid = await pve.data("POST", VM, {"vmid": "110", "name": "new", "memory": "1024", "scsi0": "local-lvm:32",
                                       "ide2": "local:iso/debian-12.9.0-amd64-netinst.iso,media=cdrom",
                                       "net0": "virtio,bridge=vmbr0"})
    assert upid.startswith("UPID:pve1:") and ":qmcreate:110:root@pam:" in upid
    config = await pve.data("GET", f"{VM}/110/config")
    assert config["scsi0"] == "local-lvm:vm-110-disk-0,size=32G"
    assert config["ide2"] == "local:iso/debian-12.9.0-amd64-netinst.iso,media=cdrom"
    assert config["net0"].startswith("virtio=BC:24:11:") and config["net0"].endswith(",bridge=vmbr0")
    assert config["memory"] == "1024" and config["smbios1"].startswith("uuid=") and "vmgenid" in config
    assert config["boot"] == "order=scsi0;ide2;net0" and config["meta"].startswith("creation-qemu=")
    assert len(config["digest"]) == 40
    assert "local-lvm:vm-110-disk-0" in volids(pve)
    listed = {g["vmid"]: g for g in await pve.data("GET", VM)}
    assert listed[110]["status"] == "stopped" and listed[110]["maxdisk"] == 32 * 1024**3
    assert listed[110]["maxmem"] == 1024 * 1024**2 and listed[100]["status"] == "running"


async def test_create_duplicate_vmid(pve: PVE) -> None:
    response = await pve.post(VM, {"vmid": "101", "memory": "512"})
    assert response.status_code == 500
    # qemu-server src/PVE/API2/Qemu.pm:1372-1375 prefixes pve-cluster Cluster.pm:796's text
    assert response.json()["message"] == "unable to create VM 101 - VM 101 already exists on node 'pve2'\n"


async def test_failed_create_changes_nothing(pve: PVE) -> None:
    before = volids(pve)
    response = await pve.post(VM, {"vmid": "111", "scsi0": "local-lvm:8", "scsi1": "nope:8"})
    assert response.status_code == 500 and response.json()["message"] == "storage 'nope' does not exist\n"
    response = await pve.post(VM, {"vmid": "111", "scsi0": "local:8"})
    assert response.status_code == 400
    assert response.json()["errors"] == {"storage": "storage 'local' does not support vm images"}
    assert 111 not in pve.backend.mock.cluster.guests and volids(pve) == before


async def test_start_stop_and_status(pve: PVE) -> None:
    await pve.data("POST", VM, {"vmid": "112", "scsi0": "local-lvm:4", "start": "1"})
    status = await pve.data("GET", f"{VM}/112/status/current")
    assert status["status"] == "running" and status["qmpstatus"] == "running" and status["pid"] > 0
    assert status["ha"] == {"managed": 0} and status["vmid"] == 112
    upid = await pve.data("POST", f"{VM}/112/status/start")
    assert (await task_status(pve, upid))["exitstatus"] == "VM 112 already running"
    await pve.data("POST", f"{VM}/112/status/stop")
    assert (await pve.data("GET", f"{VM}/112/status/current"))["status"] == "stopped"
    response = await pve.post(f"{VM}/112/status/reboot")
    assert response.status_code == 500 and response.json()["message"] == "VM 112 not running\n"


async def test_suspend_resume(pve: PVE) -> None:
    await pve.data("POST", f"{VM}/100/status/suspend")
    assert (await pve.data("GET", f"{VM}/100/status/current"))["qmpstatus"] == "paused"
    await pve.data("POST", f"{VM}/100/status/resume")
    assert (await pve.data("GET", f"{VM}/100/status/current"))["qmpstatus"] == "running"


async def test_config_update_delete_digest_and_pending(pve: PVE) -> None:
    config = await pve.data("GET", "/nodes/pve2/qemu/101/config")
    assert await pve.data("PUT", "/nodes/pve2/qemu/101/config", {"cores": "2", "delete": "ostype",
                                                      "digest": config["digest"]}) is None
    config = await pve.data("GET", "/nodes/pve2/qemu/101/config")
    assert config["cores"] == 2 and "ostype" not in config
    response = await pve.put("/nodes/pve2/qemu/101/config", {"cores": "3", "digest": "0" * 40})
    assert response.status_code == 500
    assert response.json()["message"] == "checksum mismatch (file change by other user?)\n"
    response = await pve.put("/nodes/pve2/qemu/101/config", {"cores": "3", "delete": "cores"})
    assert response.json()["errors"] == {"delete": "you can't use '-cores' and -delete cores' at the same time"}
    response = await pve.put("/nodes/pve2/qemu/101/config", {"delete": "bogus"})
    assert response.json()["errors"] == {"delete": "unknown option 'bogus'"}
    response = await pve.put("/nodes/pve2/qemu/101/config", {})
    assert response.status_code == 500 and response.json()["message"] == "no options specified\n"
    # running VM 100: memory waits for the next start, the name applies at once
    await pve.data("PUT", f"{VM}/100/config", {"memory": "4096", "name": "web02"})
    current = await pve.data("GET", f"{VM}/100/config", {"current": "1"})
    assert current["memory"] == "2048" and current["name"] == "web02"
    assert (await pve.data("GET", f"{VM}/100/config"))["memory"] == "4096"
    pending = {row["key"]: row for row in await pve.data("GET", f"{VM}/100/pending")}
    assert pending["memory"] == {"key": "memory", "value": "2048", "pending": "4096"}
    await pve.data("PUT", f"{VM}/100/config", {"revert": "memory"})
    assert "pending" not in {row["key"]: row for row in await pve.data("GET", f"{VM}/100/pending")}["memory"]


async def test_post_config_is_async_and_adds_a_disk(pve: PVE) -> None:
    upid = await pve.data("POST", "/nodes/pve2/qemu/101/config", {"scsi1": "local-lvm:10"})
    assert ":qmconfig:101:" in upid
    assert (await pve.data("GET", "/nodes/pve2/qemu/101/config"))["scsi1"] == "local-lvm:vm-101-disk-1,size=10G"
    await pve.data("PUT", "/nodes/pve2/qemu/101/config", {"delete": "scsi1"})
    config = await pve.data("GET", "/nodes/pve2/qemu/101/config")
    assert config["unused0"] == "local-lvm:vm-101-disk-1"
    await pve.data("PUT", "/nodes/pve2/qemu/101/config", {"delete": "unused0"})
    assert "local-lvm:vm-101-disk-1" not in volids(pve)


async def test_resize(pve: PVE) -> None:
    await pve.data("PUT", "/nodes/pve2/qemu/101/resize", {"disk": "scsi0", "size": "+8G"})
    assert (await pve.data("GET", "/nodes/pve2/qemu/101/config"))["scsi0"] == "local-lvm:vm-101-disk-0,size=72G"
    # qemu-server src/PVE/API2/Qemu.pm:6048, in the resize worker: 200 + UPID, the task fails
    upid = await pve.data("PUT", "/nodes/pve2/qemu/101/resize", {"disk": "scsi0", "size": "10G"})
    assert (await task_status(pve, upid))["exitstatus"] == "shrinking disks is not supported"


async def test_move_disk(pve: PVE) -> None:
    pve.backend.mock.cluster.storages["local"].content.append("images")
    await pve.data("POST", "/nodes/pve2/qemu/101/move_disk", {"disk": "scsi0", "storage": "local", "delete": "1"})
    config = await pve.data("GET", "/nodes/pve2/qemu/101/config")
    assert config["scsi0"] == "local:101/vm-101-disk-0.qcow2,size=64G"
    assert "local-lvm:vm-101-disk-0" not in volids(pve)


async def test_template_and_linked_clone(pve: PVE) -> None:
    response = await pve.post("/nodes/pve2/qemu/101/clone", {"newid": "120", "full": "0"})
    # qemu-server src/PVE/API2/Qemu.pm:4543-4562: the volume and its drive
    assert response.json()["message"] == "Linked clone feature is not supported for 'local-lvm:vm-101-disk-0' (scsi0)\n"
    await pve.data("POST", "/nodes/pve2/qemu/101/template")
    config = await pve.data("GET", "/nodes/pve2/qemu/101/config")
    assert config["template"] == 1 and config["scsi0"] == "local-lvm:base-101-disk-0,size=64G"
    await pve.data("POST", "/nodes/pve2/qemu/101/clone", {"newid": "120", "name": "linked"})
    clone = await pve.data("GET", "/nodes/pve2/qemu/120/config")
    assert clone["scsi0"] == "local-lvm:base-101-disk-0/vm-120-disk-0,size=64G" and clone["name"] == "linked"
    assert clone["net0"] != config["net0"] and "template" not in clone


async def test_full_clone(pve: PVE) -> None:
    await pve.data("POST", "/nodes/pve2/qemu/101/clone", {"newid": "121", "full": "1"})
    clone = await pve.data("GET", "/nodes/pve2/qemu/121/config")
    assert clone["scsi0"] == "local-lvm:vm-121-disk-0,size=64G" and clone["name"] == "Copy-of-VM-db01"
    response = await pve.post("/nodes/pve2/qemu/101/clone", {"newid": "100"})
    assert response.json()["message"] == "unable to create VM 100: config file already exists\n"  # Qemu.pm:4502


async def test_migrate(pve: PVE) -> None:
    response = await pve.post(f"{VM}/100/migrate", {"target": "pve2"})
    assert response.status_code == 500 and response.json()["message"] == "can't migrate running VM without --online\n"
    await pve.data("POST", f"{VM}/100/migrate", {"target": "pve2", "online": "1"})
    assert (await pve.data("GET", "/nodes/pve2/qemu/100/status/current"))["status"] == "running"
    response = await pve.get(f"{VM}/100/config")
    assert response.status_code == 500
    assert response.json()["message"] == "Configuration file 'nodes/pve1/qemu-server/100.conf' does not exist\n"
    store = pve.backend.mock.cluster.storages["local-lvm"]
    assert "local-lvm:vm-100-disk-0" in store.bucket("pve2")


async def test_destroy(pve: PVE) -> None:
    response = await pve.delete(f"{VM}/100")
    assert response.status_code == 500 and response.json()["message"] == "VM 100 is running - destroy failed\n"
    upid = await pve.data("DELETE", "/nodes/pve2/qemu/101", {"purge": "1"})
    assert ":qmdestroy:101:" in upid
    assert 101 not in pve.backend.mock.cluster.guests and "local-lvm:vm-101-disk-0" not in volids(pve)
    response = await pve.get("/nodes/pve2/qemu/101/status/current")
    assert response.status_code == 500 and "does not exist" in response.json()["message"]


async def test_create_allocates_a_cloudinit_drive(pve: PVE) -> None:
    """qemu-server src/PVE/API2/Qemu.pm:478-514: ``STORAGE:cloudinit`` is a 4 MiB volume
    ``vm-<vmid>-cloudinit`` (with its format as suffix on a file storage), attached as a CD-ROM."""
    await pve.data("POST", VM, {"vmid": "110", "ide2": "local-lvm:cloudinit", "scsi0": "local-lvm:1"})
    await pve.data("POST", VM, {"vmid": "111", "ide2": "local:cloudinit"})
    assert (await pve.data("GET", f"{VM}/110/config"))["ide2"] == "local-lvm:vm-110-cloudinit,media=cdrom"
    assert (await pve.data("GET", f"{VM}/111/config"))["ide2"] == "local:111/vm-111-cloudinit.qcow2,media=cdrom"
    volume = pve.backend.mock.cluster.storages["local-lvm"].bucket("pve1")["local-lvm:vm-110-cloudinit"]
    assert (volume.size, volume.vmid) == (4 * 1024**2, 110)
    twice = await pve.post(VM, {"vmid": "112", "ide2": "local-lvm:cloudinit", "ide3": "local-lvm:cloudinit"})
    assert twice.json()["message"] == "ide3 - cloud-init drive is already attached at 'ide2'\n"
    assert "112" not in str(volids(pve))


async def test_create_imports_a_disk_at_the_source_size(pve: PVE) -> None:
    """Qemu.pm:520-560: ``STORAGE:0,import-from=VOLUME`` makes the new disk a copy of the source."""
    iso = "local:iso/debian-12.9.0-amd64-netinst.iso"
    source = pve.backend.mock.cluster.storages["local"].bucket("pve1")[iso]
    await pve.data("POST", VM, {"vmid": "110", "scsi0": f"local-lvm:0,import-from={iso}"})
    config = await pve.data("GET", f"{VM}/110/config")
    assert config["scsi0"].startswith("local-lvm:vm-110-disk-0,") and "import-from" not in config["scsi0"]
    assert pve.backend.mock.cluster.storages["local-lvm"].bucket("pve1")["local-lvm:vm-110-disk-0"].size == \
        source.size
