"""The cluster the golden corpus's accepted requests assume: the objects its paths and bodies name.

The corpus (tests/data/golden_corpus.jsonl) was recorded on a node ``pve1`` whose cluster has VM 120,
container 230, storages ``nas01``, ``local-zfs`` and ``ceph.rbd``, user ``jdoe@pve`` with token ``ci``, groups,
a pool, a role, HA resources and a task. This seed is the mock's default cluster plus those, so that
an accepted request can be answered as on that cluster. Objects that a case creates (VM 4321,
containers 2300, 231 and 6200, storage ``zp1``...) stay out: one seed cannot both have them and lack them.
"""

from __future__ import annotations

import copy
from typing import Any

from pvegateway.backends.mock.seed import DEFAULT_SEED

GiB = 1024**3
UPID = "UPID:pve1:0000A1B2:0001C3D4:66000000:qmstart:120:root@pam:"


def _volume(volid: str, storage: str, content: str, size: int, vmid: int | None = None,
            fmt: str = "raw") -> dict[str, Any]:
    return {"volid": volid, "storage": storage, "node": "pve1", "content": content, "size": size,
            "format": fmt, "vmid": vmid, "ctime": 1717200000}


def _snapshot(name: str, parent: str | None, config: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "config": dict(config), "parent": parent, "snaptime": 1717200000}


_VM120 = {
    "name": "app120", "memory": "4096", "cores": "2", "sockets": "1", "ostype": "l26",
    "scsihw": "virtio-scsi-single", "scsi0": "local-zfs:vm-120-disk-0,size=32G",
    "scsi1": "local-zfs:vm-120-disk-1,size=8G", "scsi2": "local-zfs:vm-120-disk-2,size=8G",
    "scsi5": "local-zfs:vm-120-disk-5,size=1G", "ide2": "local-zfs:vm-120-cloudinit,media=cdrom",
    "net0": "virtio=BC:24:11:00:01:20,bridge=vmbr0", "net1": "virtio=BC:24:11:00:01:21,bridge=vmbr0",
    "serial0": "socket", "serial1": "socket", "agent": "1", "boot": "order=scsi0",
    **{f"unused{i}": f"local-zfs:vm-120-disk-{10 + i}" for i in range(5)},
    "smbios1": "uuid=7d2f1c4e-0000-4000-8000-000000000120", "vmgenid": "00000000-0000-4000-8000-000000000120",
}
_CT230 = {
    "hostname": "ct230", "memory": "512", "swap": "512", "cores": "1", "ostype": "debian", "arch": "amd64",
    "rootfs": "local-zfs:subvol-230-disk-0,size=8G",
    "net0": "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:02:30,ip=dhcp,type=veth",
}


def golden_seed() -> dict[str, Any]:
    seed = copy.deepcopy(DEFAULT_SEED)
    local = next(s for s in seed["storages"] if s["storage"] == "local")
    local["content"] += ["rootdir", "images"]  # the recorded node creates containers on it by default
    local["volumes"].append(_volume("local:vztmpl/ubuntu-24.04-standard_24.04-2_amd64.tar.zst", "local",
                                    "vztmpl", 140 * 2**20, fmt="tzst"))
    seed["storages"] += [
        {"storage": "ceph.rbd", "type": "rbd", "content": ["images", "rootdir"], "shared": True,
         "config": {"pool": "rbd"}, "total": 4000 * GiB, "volumes": []},
        {"storage": "local-zfs", "type": "zfspool", "content": ["images", "rootdir"],
         "config": {"pool": "rpool/data", "sparse": "1"}, "total": 400 * GiB,
         "volumes": [_volume(f"local-zfs:vm-120-disk-{i}", "local-zfs", "images", 8 * GiB, 120)
                     for i in (0, 1, 2, 5, 10, 11, 12, 13, 14)]
         + [_volume("local-zfs:vm-120-cloudinit", "local-zfs", "images", 4 * 2**20, 120),
            _volume("local-zfs:subvol-230-disk-0", "local-zfs", "rootdir", 8 * GiB, 230, "subvol")]},
        {"storage": "nas01", "type": "nfs", "shared": True,
         "content": ["iso", "vztmpl", "backup", "images", "import", "snippets"],
         "config": {"server": "192.0.2.50", "export": "/export/pve", "path": "/mnt/pve/nas01"},
         "total": 2000 * GiB,
         "volumes": [
             _volume("nas01:iso/alpine-3.20.iso", "nas01", "iso", 200 * 2**20, fmt="iso"),
             _volume("nas01:iso/old.iso", "nas01", "iso", 200 * 2**20, fmt="iso"),
             _volume("nas01:iso/Win11_23H2.iso", "nas01", "iso", 6 * GiB, fmt="iso"),
             _volume("nas01:iso/virtio-win.iso", "nas01", "iso", 700 * 2**20, fmt="iso"),
             _volume("nas01:vztmpl/debian-12.tar.zst", "nas01", "vztmpl", 120 * 2**20, fmt="tzst"),
             _volume("nas01:vztmpl/alpine-3.20-default_20240908_amd64.tar.xz", "nas01", "vztmpl",
                     3 * 2**20, fmt="txz"),
             _volume("nas01:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst", "nas01", "vztmpl",
                     126 * 2**20, fmt="tzst"),
             # the backups hold their guests' configurations (what extractconfig reads, a restore brings back)
             {**_volume("nas01:backup/vzdump-lxc-230-2024_06_01-02_00_00.tar.zst", "nas01", "backup",
                        2 * GiB, 230, "tar.zst"), "config": dict(_CT230)},
             {**_volume("nas01:backup/vzdump-qemu-120-2024_06_01-02_00_00.vma.zst", "nas01", "backup",
                        12 * GiB, 120, "vma.zst"), "config": dict(_VM120)},
             _volume("nas01:import/noble-server-cloudimg-amd64.img", "nas01", "import", 600 * 2**20,
                     fmt="qcow2"),
         ]},
    ]
    seed["guests"] += [
        {"vmid": 120, "kind": "qemu", "node": "pve1", "status": "running", "started": 1717200000,
         "config": dict(_VM120), "parent": "nightly",
         "snapshots": [_snapshot("pre_patch", None, _VM120), _snapshot("nightly", "pre_patch", _VM120)]},
        {"vmid": 230, "kind": "lxc", "node": "pve1", "status": "running", "started": 1717200000,
         "config": dict(_CT230), "parent": "before_update",
         "snapshots": [_snapshot("before_update", None, _CT230)]},
    ]
    seed["users"] += [
        {"userid": "jdoe@pve", "comment": "Jane Doe", "email": "jdoe@example.com", "password": "old-pass",
         "groups": ["devops"], "tokens": [{"tokenid": "ci", "secret": "00000000-0000-4000-8000-0000000000c1"}]},
    ]
    seed["groups"] += [{"groupid": "ops"}, {"groupid": "audit"}, {"groupid": "devops"}]
    seed["roles"] = [{"roleid": "Operator", "privs": ["VM.PowerMgmt", "VM.Console"]}]
    seed["pools"] += [{"poolid": "lab", "vmids": [], "storages": []}]
    seed["ha"] = {"vm:120": {"state": "started"}}
    seed["tasks"] = [{"upid": UPID, "node": "pve1", "pid": 0xA1B2, "pstart": 0x1C3D4, "starttime": 0x66000000,
                      "type": "qmstart", "id": "120", "user": "root@pam", "log": ["start VM 120", "TASK OK"],
                      "status": "stopped", "exitstatus": "OK", "endtime": 0x66000002}]
    return seed
