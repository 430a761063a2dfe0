"""Containers over the in-process API: create, config, power, resize, destroy."""

from __future__ import annotations

from tests.mock.conftest import PVE

CT = "/nodes/pve1/lxc"
TEMPLATE = "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"


async def test_create_container(pve: PVE) -> None:
    upid = await pve.data("POST", CT, {"vmid": "210", "ostemplate": TEMPLATE,
                                       "rootfs": "local-lvm:8", "hostname": "ct210", "password": "secret123",
                                       "net0": "name=eth0,bridge=vmbr0,ip=dhcp"})
    assert ":vzcreate:210:" in upid
    config = await pve.data("GET", f"{CT}/210/config")
    assert config["rootfs"] == "local-lvm:vm-210-disk-0,size=8G" and config["hostname"] == "ct210"
    assert config["net0"].startswith("name=eth0,bridge=vmbr0,hwaddr=BC:24:11:")
    assert config["net0"].endswith(",ip=dhcp,type=veth") and "password" not in config
    assert config["ostype"] == "debian" and config["arch"] == "amd64"


async def test_create_bad_storage_changes_nothing(pve: PVE) -> None:
    response = await pve.post(CT, {"vmid": "211", "ostemplate": TEMPLATE,
                                   "rootfs": "local:8"})
    assert response.status_code == 400
    # pve-container src/PVE/API2/LXC.pm:352-353: the create names 'storage', whatever key held the volume
    assert response.json()["errors"] == {"storage": "storage 'local' does not support container directories"}
    assert 211 not in pve.backend.mock.cluster.guests


async def test_power_and_status(pve: PVE) -> None:
    response = await pve.post(f"{CT}/200/status/start")
    assert response.status_code == 500 and response.json()["message"] == "CT 200 already running\n"
    assert ":vzshutdown:200:" in await pve.data("POST", f"{CT}/200/status/shutdown")
    status = await pve.data("GET", f"{CT}/200/status/current")
    assert status["status"] == "stopped" and status["maxdisk"] == 8 * 1024**3 and status["type"] == "lxc"
    response = await pve.post(f"{CT}/200/status/stop")
    assert response.json()["message"] == "CT 200 not running\n"


async def test_config_digest_and_resize(pve: PVE) -> None:
    response = await pve.put(f"{CT}/200/config", {"cores": "2", "digest": "0" * 40})
    assert response.json()["message"] == "detected modified configuration - file changed by other user? Try again.\n"
    await pve.data("PUT", f"{CT}/200/config", {"cores": "2"})
    assert (await pve.data("GET", f"{CT}/200/config"))["cores"] == 2
    await pve.data("PUT", f"{CT}/200/resize", {"disk": "rootfs", "size": "+2G"})
    assert (await pve.data("GET", f"{CT}/200/config"))["rootfs"] == "local-lvm:vm-200-disk-0,size=10G"
    response = await pve.put(f"{CT}/200/resize", {"disk": "rootfs", "size": "4G"})
    assert response.json()["message"] == "unable to shrink disk size\n"


async def test_destroy_container(pve: PVE) -> None:
    response = await pve.delete(f"{CT}/200")
    assert response.json()["message"] == "unable to destroy CT 200 - container is running\n"
    await pve.data("POST", f"{CT}/200/status/stop")
    await pve.data("DELETE", f"{CT}/200")
    assert 200 not in pve.backend.mock.cluster.guests


async def test_bind_and_device_mounts_are_host_paths(pve: PVE) -> None:
    """pve-container src/PVE/LXC/Config.pm:1897-1904 classify_mountpoint: a mount point's path beginning
    with '/' is a bind (or, under /dev, a device) mount: kept as given, no volume allocated."""
    before = {v for s in pve.backend.mock.cluster.storages.values() for b in s.volumes.values() for v in b}
    await pve.data("POST", CT, {"vmid": "210", "ostemplate": TEMPLATE, "rootfs": "local-lvm:8",
                                "mp0": "/srv/data,mp=/data", "mp1": "/dev/sdb1,mp=/mnt/disk"})
    config = await pve.data("GET", f"{CT}/210/config")
    assert (config["mp0"], config["mp1"]) == ("/srv/data,mp=/data", "/dev/sdb1,mp=/mnt/disk")
    after = {v for s in pve.backend.mock.cluster.storages.values() for b in s.volumes.values() for v in b}
    assert after - before == {"local-lvm:vm-210-disk-0"}
