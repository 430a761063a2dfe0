"""A VM's cloud-init: pending changes (qemu-server src/PVE/API2/Qemu.pm cloudinit_pending/_update,
QemuServer.pm cloudinit_record_changed) and the generated files (src/PVE/QemuServer/Cloudinit.pm)."""

from __future__ import annotations

import hashlib

from tests.mock.conftest import PVE
from tests.mock.test_qemu import volids

VM = "/nodes/pve2/qemu/101"  # stopped: config changes apply at once


async def with_cloudinit(pve: PVE) -> None:
    await pve.data("PUT", VM + "/config", {"ide2": "local-lvm:cloudinit", "ciuser": "admin", "cipassword": "s3cret",
                                           "ipconfig0": "ip=10.1.2.3/24,gw=10.1.2.1",
                                           "sshkeys": "ssh-ed25519%20AAAA%20me%40host"})


async def test_cloudinit_drive_is_allocated_once(pve: PVE) -> None:
    await with_cloudinit(pve)
    # API2/Qemu.pm:492-513: vm-<vmid>-cloudinit, a CD-ROM
    assert (await pve.data("GET", VM + "/config"))["ide2"] == "local-lvm:vm-101-cloudinit,media=cdrom"
    assert "local-lvm:vm-101-cloudinit" in volids(pve)
    again = await pve.put(VM + "/config", {"ide3": "local-lvm:cloudinit"})
    assert again.status_code == 500
    assert again.json()["message"] == "ide3 - cloud-init drive is already attached at 'ide2'\n"  # Qemu.pm:488


async def test_pending_changes_until_the_image_is_made_again(pve: PVE) -> None:
    await with_cloudinit(pve)
    rows = {r["key"]: r for r in await pve.data("GET", VM + "/cloudinit")}
    # new keys are "added": only a pending value; the password masked (Qemu.pm:1976-1985)
    assert rows["ciuser"] == {"key": "ciuser", "pending": "admin"}
    assert rows["cipassword"] == {"key": "cipassword", "pending": "**********"}
    assert await pve.data("PUT", VM + "/cloudinit") is None  # the image is made: in sync
    assert {r["key"]: r for r in await pve.data("GET", VM + "/cloudinit")}["ciuser"] == {"key": "ciuser",
                                                                                        "value": "admin"}
    await pve.data("PUT", VM + "/config", {"ciuser": "bob", "delete": "cipassword"})
    rows = {r["key"]: r for r in await pve.data("GET", VM + "/cloudinit")}
    assert rows["ciuser"] == {"key": "ciuser", "value": "admin", "pending": "bob"}
    assert rows["cipassword"] == {"key": "cipassword", "delete": 1}
    await pve.data("PUT", VM + "/config", {"ciuser": "admin"})  # back to the image's value: in sync
    assert {r["key"]: r for r in await pve.data("GET", VM + "/cloudinit")}["ciuser"] == {"key": "ciuser",
                                                                                        "value": "admin"}


async def test_a_start_makes_the_image(pve: PVE) -> None:
    await with_cloudinit(pve)
    await pve.data("POST", VM + "/status/start")
    assert all("pending" not in r and "delete" not in r for r in await pve.data("GET", VM + "/cloudinit"))


async def test_dump_user_network_and_meta(pve: PVE) -> None:
    await with_cloudinit(pve)
    user = await pve.data("GET", VM + "/cloudinit/dump", {"type": "user"})
    # Cloudinit.pm:145-189
    assert user.startswith("#cloud-config\nhostname: db01\nmanage_etc_hosts: true\nfqdn: db01\nuser: admin\n")
    assert "password: s3cret\n" in user and "ssh_authorized_keys:\n  - ssh-ed25519 AAAA me@host\n" in user
    assert user.endswith("chpasswd:\n  expire: False\nusers:\n  - default\npackage_upgrade: true\n")
    network = await pve.data("GET", VM + "/cloudinit/dump", {"type": "network"})
    # Cloudinit.pm:527-596: nocloud v1, the MAC in lower case, the /24 as a netmask
    assert network.startswith("version: 1\nconfig:\n    - type: physical\n      name: eth0\n"
                              "      mac_address: 'bc:24:11:00:01:01'\n      subnets:\n      - type: static\n"
                              "        address: '10.1.2.3'\n        netmask: '255.255.255.0'\n"
                              "        gateway: '10.1.2.1'\n    - type: nameserver\n")
    meta = await pve.data("GET", VM + "/cloudinit/dump", {"type": "meta"})
    assert meta == f"instance-id: {hashlib.sha1((user + network).encode()).hexdigest()}\n"  # Cloudinit.pm:603


async def test_windows_vm_gets_configdrive2(pve: PVE) -> None:
    await with_cloudinit(pve)
    await pve.data("PUT", VM + "/config", {"ostype": "win11"})
    network = await pve.data("GET", VM + "/cloudinit/dump", {"type": "network"})
    # Cloudinit.pm:94-110 and 198-247
    assert network.startswith("auto lo\niface lo inet loopback\n\n")
    assert "auto eth0\niface eth0 inet static\n        address 10.1.2.3\n        netmask 255.255.255.0\n" in network
    meta = await pve.data("GET", VM + "/cloudinit/dump", {"type": "meta"})
    assert meta.startswith('{\n     "uuid": "') and '"network_config": { "content_path": "/content/0000" }' in meta
