"""The default cluster: three nodes, ``local`` and ``local-lvm`` on each, ``vmbr0``, a few guests."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

GiB = 1024**3

DEFAULT_ROOT_PASSWORD = "pvegateway"  # noqa: S105  # nosec B105 # the mock's documented default, not a secret

_NODES = [{"name": f"pve{i}", "ip": f"192.0.2.{10 + i}"} for i in (1, 2, 3)]


def _disk(storage: str, node: str, vmid: int, index: int, size_gib: int, content: str = "images") -> dict[str, Any]:
    return {"volid": f"{storage}:vm-{vmid}-disk-{index}", "storage": storage, "node": node,
            "content": content, "size": size_gib * GiB, "format": "raw", "vmid": vmid, "ctime": 1735689600}


DEFAULT_SEED: dict[str, Any] = {
    "name": "pvegw",
    "clock": None,
    "root_password": DEFAULT_ROOT_PASSWORD,
    "nodes": _NODES,
    "storages": [
        {"storage": "local", "type": "dir", "content": ["iso", "vztmpl", "backup", "snippets"],
         "config": {"path": "/var/lib/vz"}, "total": 100 * GiB,
         "volumes": [
             {"volid": "local:iso/debian-12.9.0-amd64-netinst.iso", "storage": "local", "node": n["name"],
              "content": "iso", "size": 663748608, "format": "iso", "ctime": 1735689600}
             for n in _NODES
         ] + [
             {"volid": "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst", "storage": "local",
              "node": n["name"], "content": "vztmpl", "size": 126452736, "format": "tzst", "ctime": 1735689600}
             for n in _NODES
         ]},
        {"storage": "local-lvm", "type": "lvmthin", "content": ["images", "rootdir"],
         "config": {"thinpool": "data", "vgname": "pve"}, "total": 400 * GiB,
         "volumes": [_disk("local-lvm", "pve1", 100, 0, 32), _disk("local-lvm", "pve2", 101, 0, 64),
                     _disk("local-lvm", "pve1", 200, 0, 8, "rootdir")]},
    ],
    "guests": [
        {"vmid": 100, "kind": "qemu", "node": "pve1", "status": "running", "started": 1735689600,
         "config": {"name": "web01", "memory": "2048", "cores": "2", "sockets": "1", "ostype": "l26",
                    "scsihw": "virtio-scsi-single", "scsi0": "local-lvm:vm-100-disk-0,size=32G",
                    "net0": "virtio=BC:24:11:00:01:00,bridge=vmbr0", "boot": "order=scsi0;net0", "agent": "1",
                    "smbios1": "uuid=7d2f1c4e-0000-4000-8000-000000000100",
                    "vmgenid": "00000000-0000-4000-8000-000000000100",
                    "meta": "creation-qemu=9.2.0,ctime=1735689600"}},
        {"vmid": 101, "kind": "qemu", "node": "pve2", "status": "stopped",
         "config": {"name": "db01", "memory": "4096", "cores": "4", "sockets": "1", "ostype": "l26",
                    "scsihw": "virtio-scsi-single", "scsi0": "local-lvm:vm-101-disk-0,size=64G",
                    "net0": "virtio=BC:24:11:00:01:01,bridge=vmbr0", "boot": "order=scsi0;net0",
                    "smbios1": "uuid=7d2f1c4e-0000-4000-8000-000000000101"}},
        {"vmid": 200, "kind": "lxc", "node": "pve1", "status": "running", "started": 1735689600,
         "config": {"hostname": "proxy01", "memory": "512", "swap": "512", "cores": "1", "ostype": "debian",
                    "arch": "amd64", "rootfs": "local-lvm:vm-200-disk-0,size=8G",
                    "net0": "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:02:00,ip=dhcp,type=veth"}},
    ],
    "users": [{"userid": "root@pam", "comment": "root", "email": "root@example.com"}],
    "groups": [],
    "acl": [],
    "pools": [],
    "counters": {"mac": 0x000100},
}


def load_seed(path: str | Path | None) -> dict[str, Any]:
    """A seed from a JSON file, or the default (a copy); ``snapshot.Seed.of`` checks its top level."""
    if path is None:
        return copy.deepcopy(DEFAULT_SEED)
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as err:
        raise ValueError(f"cannot read seed {path}: {err}") from None
    if not isinstance(data, dict):
        raise ValueError(f"seed {path}: the top level must be an object")
    return data
