"""feature, sendkey and unlink (qemu-server src/PVE/API2/Qemu.pm, pve-container src/PVE/API2/LXC.pm)
over the in-process API."""

from __future__ import annotations

from tests.mock.conftest import PVE
from tests.mock.test_qemu import volids

VM = "/nodes/pve1/qemu"


async def has(pve: PVE, path: str, feature: str, **extra: str) -> int:
    answer = await pve.data("GET", path + "/feature", {"feature": feature, **extra})
    value: int = answer["hasFeature"]
    return value


async def test_features_follow_the_storage_plugin_tables(pve: PVE) -> None:
    # LvmThinPlugin.pm volume_has_feature: snapshot and copy of a current volume, clone only of a base
    assert await has(pve, VM + "/100", "snapshot") == 1
    assert await has(pve, VM + "/100", "copy") == 1
    assert await has(pve, VM + "/100", "clone") == 0
    # Qemu.pm vm_feature: the nodes the disks allow (local-lvm is local: the VM's node)
    assert (await pve.data("GET", VM + "/100/feature", {"feature": "copy"}))["nodes"] == ["pve1"]
    # LXC.pm vm_feature answers no nodes
    assert await pve.data("GET", "/nodes/pve1/lxc/200/feature", {"feature": "snapshot"}) == {"hasFeature": 1}


async def test_dir_storage_snapshots_only_qcow2(pve: PVE) -> None:
    await pve.data("PUT", "/storage/local", {"content": "images,iso,vztmpl,backup,snippets"})
    await pve.data("POST", VM, {"vmid": "120", "scsi0": "local:1,format=qcow2"})
    await pve.data("POST", VM, {"vmid": "121", "scsi0": "local:1,format=raw"})
    # Plugin.pm volume_has_feature: snapshot => { current => { qcow2 => 1 } }
    assert await has(pve, VM + "/120", "snapshot") == 1
    assert await has(pve, VM + "/121", "snapshot") == 0
    await pve.data("PUT", VM + "/120/config", {"ide2": "local:iso/debian-12.9.0-amd64-netinst.iso,media=cdrom"})
    assert await has(pve, VM + "/120", "snapshot") == 1  # QemuConfig.pm:83: CD-ROMs are skipped


async def test_feature_of_a_missing_snapshot(pve: PVE) -> None:
    response = await pve.get(VM + "/100/feature", {"feature": "clone", "snapname": "nope"})
    assert response.status_code == 500 and response.json()["message"] == "snapshot 'nope' does not exist\n"


async def test_sendkey_needs_a_running_vm_and_a_known_key(pve: PVE) -> None:
    assert await pve.data("PUT", VM + "/100/sendkey", {"key": "ctrl-alt-delete"}) is None
    bad = await pve.put(VM + "/100/sendkey", {"key": "ctrl-nokey"})
    assert bad.status_code == 500 and bad.json()["message"] == "invalid parameter: ctrl-nokey\n"
    # qemu-server src/PVE/QemuServer/Monitor.pm:80-81: the monitor of a stopped VM
    stopped = await pve.put("/nodes/pve2/qemu/101/sendkey", {"key": "ret"})
    assert stopped.status_code == 500 and stopped.json()["message"] == "VM 101 not running\n"


async def test_unlink_detaches_and_force_frees_the_volume(pve: PVE) -> None:
    await pve.data("PUT", VM + "/100/config", {"scsi1": "local-lvm:4", "scsi2": "local-lvm:4"})
    assert {"local-lvm:vm-100-disk-1", "local-lvm:vm-100-disk-2"} <= volids(pve)
    # without force the disk stays as unusedN (the unlink parameter's description)
    assert await pve.data("PUT", VM + "/100/unlink", {"idlist": "scsi1"}) is None
    config = await pve.data("GET", VM + "/100/config")
    assert "scsi1" not in config and config["unused0"] == "local-lvm:vm-100-disk-1"
    # force: QemuServer.pm try_deallocate_drive frees it
    assert await pve.data("PUT", VM + "/100/unlink", {"idlist": "scsi2,unused0", "force": "1"}) is None
    config = await pve.data("GET", VM + "/100/config")
    assert "scsi2" not in config and "unused0" not in config
    assert not {"local-lvm:vm-100-disk-1", "local-lvm:vm-100-disk-2"} & volids(pve)


async def test_unlink_of_an_unknown_option(pve: PVE) -> None:
    response = await pve.put(VM + "/100/unlink", {"idlist": "nosuchkey"})
    assert response.status_code == 400 and response.json()["errors"] == {"delete": "unknown option 'nosuchkey'"}
