"""Guest volumes on the mock's storages: lookup, allocation, freeing, moving, copying (PVE::Storage's view)."""

from __future__ import annotations

import re
from dataclasses import replace

from ....errors import PVEError
from ..runtime import Mock
from ..state import Storage, Volume

FILE_STORAGES = {"dir", "nfs", "cifs", "glusterfs", "btrfs", "cephfs"}
NEW_DISK = re.compile(r"([^:\s]+):(\d+(?:\.\d+)?)")  # STORAGE:SIZE_IN_GiB asks for a new volume


def storage(mock: Mock, storeid: str, node: str) -> Storage:
    found = mock.cluster.storages.get(storeid)
    if found is None:
        raise PVEError(500, f"storage '{storeid}' does not exist\n")
    if not found.available_on(node):
        raise PVEError(500, f"storage '{storeid}' is not available on node '{node}'\n")
    return found


def find(mock: Mock, volid: str, node: str) -> Volume | None:
    storeid = volid.partition(":")[0]
    store = mock.cluster.storages.get(storeid)
    if store is None:
        return None
    return store.bucket(node).get(volid)


def require(mock: Mock, volid: str, node: str) -> Volume:
    storeid, sep, _ = volid.partition(":")
    if not sep:
        raise PVEError(500, f"unable to parse volume ID '{volid}'\n")
    storage(mock, storeid, node)
    volume = find(mock, volid, node)
    if volume is None:
        raise PVEError(500, f"volume '{volid}' does not exist\n")
    return volume


def check_content(store: Storage, content: str, param: str) -> None:
    if content not in store.content:
        what = "vm images" if content == "images" else "container directories"
        raise PVEError.params({param: f"storage '{store.storage}' does not support {what}"})


def _name(store: Storage, vmid: int, index: int, fmt: str, prefix: str = "vm") -> str:
    if store.type in FILE_STORAGES:
        return f"{store.storage}:{vmid}/{prefix}-{vmid}-disk-{index}.{fmt}"
    return f"{store.storage}:{prefix}-{vmid}-disk-{index}"


def default_format(store: Storage, kind: str) -> str:
    return "qcow2" if store.type in FILE_STORAGES and kind == "qemu" else "raw"


def new_volid(mock: Mock, store: Storage, node: str, vmid: int, fmt: str, taken: set[str] | None = None) -> str:
    """The first free ``vm-<vmid>-disk-<n>`` (also skipping names ``taken`` in this request)."""
    used = set(store.bucket(node)) | (taken or set())
    index = 0
    while any(v in used for v in (_name(store, vmid, index, fmt), _name(store, vmid, index, fmt, "base"))):
        index += 1
    return _name(store, vmid, index, fmt)


def no_space(store: Storage, volid: str, size: int) -> PVEError:
    """What allocating ``volid`` on a storage without space left dies with, in the words of the
    storage's plugin (pve-storage src/PVE/Storage/): the LVM plugin checks the volume group's free space
    itself (LVMPlugin.pm:713, sizes in KiB); the others run a tool whose last stderr line follows the
    errmsg (pve-common src/PVE/Cmd.pm:289-292, :322): lvcreate for a thin pool (LvmThinPlugin.pm:127),
    zfs (ZFSPoolPlugin.pm:242), qemu-img for file-based storages (Common.pm:172)."""
    name = volid.partition(":")[2]
    vg = store.config.get("vgname", "pve")
    if store.type == "lvm":
        return PVEError(500, f"not enough free space (0 < {size // 1024})\n")
    if store.type == "lvmthin":
        pool = f"{vg}/{store.config.get('thinpool', 'data')}"
        return PVEError(500, f"lvcreate '{vg}/{name}' error:   Cannot create new thin volume, free space in "
                             f"thin pool {pool} reached threshold.\n")
    if store.type == "zfspool":
        return PVEError(500, f"zfs error: cannot create '{store.config.get('pool', 'rpool/data')}/{name}': "
                             f"out of space\n")
    base = str(store.config.get("path", f"/mnt/pve/{store.storage}"))
    path = f"{base}/images/{name}"  # a file-based storage's volume name is <vmid>/<file>
    return PVEError(500, f"unable to create image: qemu-img: {path}: Could not create '{path}': "
                         f"No space left on device\n")


def allocate(mock: Mock, store: Storage, node: str, vmid: int, size: int, content: str, fmt: str,
             volid: str | None = None) -> Volume:
    volid = volid or new_volid(mock, store, node, vmid, fmt)
    if store.full:
        raise no_space(store, volid, size)
    volume = Volume(volid=volid, storage=store.storage, node=node, content=content, size=size, format=fmt,
                    vmid=vmid, ctime=mock.clock.now())
    store.bucket(node)[volid] = volume
    return volume


def free(mock: Mock, volid: str, node: str) -> None:
    store = mock.cluster.storages.get(volid.partition(":")[0])
    if store is not None:
        store.bucket(node).pop(volid, None)


def owned(mock: Mock, vmid: int, node: str) -> list[Volume]:
    """Every volume a guest owns on ``node`` (and on shared storages)."""
    return [v for s in mock.cluster.storages.values() for v in list(s.bucket(node).values()) if v.vmid == vmid]


def copy(mock: Mock, source: Volume, store: Storage, node: str, vmid: int, fmt: str | None = None,
         taken: set[str] | None = None) -> Volume:
    fmt = fmt or (source.format if store.type in FILE_STORAGES else "raw")
    volid = new_volid(mock, store, node, vmid, fmt, taken)
    return allocate(mock, store, node, vmid, source.size, source.content, fmt, volid)


def rename_base(mock: Mock, volume: Volume) -> str:
    """A template's disk: ``vm-100-disk-0`` becomes ``base-100-disk-0`` (what linked clones point at)."""
    store = mock.cluster.storages[volume.storage]
    bucket = store.bucket(volume.node)
    new = volume.volid.replace(f"vm-{volume.vmid}-", f"base-{volume.vmid}-")
    if new != volume.volid:
        bucket.pop(volume.volid, None)
        bucket[new] = replace(volume, volid=new)
    return new


def linked(mock: Mock, base: Volume, vmid: int, taken: set[str] | None = None) -> Volume:
    store = mock.cluster.storages[base.storage]
    child = new_volid(mock, store, base.node, vmid, base.format, taken)
    _, _, child_name = child.partition(":")
    _, _, base_name = base.volid.partition(":")
    volid = f"{store.storage}:{base_name}/{child_name}"
    return allocate(mock, store, base.node, vmid, base.size, base.content, base.format, volid)


def move_node(mock: Mock, volume: Volume, target: str) -> None:
    store = mock.cluster.storages[volume.storage]
    if store.shared:
        return
    store.bucket(volume.node).pop(volume.volid, None)
    volume.node = target
    store.bucket(target)[volume.volid] = volume
