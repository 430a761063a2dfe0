"""``GET .../{vmid}/feature``: whether a guest's volumes allow a snapshot, a clone or a copy, as each
storage plugin's ``volume_has_feature`` table says (pve-storage src/PVE/Storage/*Plugin.pm)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ....errors import PVEError
from ...base import Call
from ..runtime import Mock
from ..state import Guest
from ._guest_common import Kind, guest_of, is_cdrom, volume_of

# feature -> base/current/snap -> the formats that have it (None: any format). Only the features the
# API asks about; the plugins' tables also name template, sparseinit, rename...
Table = dict[str, dict[str, frozenset[str] | None]]
_QCOW2 = frozenset({"qcow2"})
_IMAGE = frozenset({"qcow2", "raw", "vmdk"})
_FILE: Table = {  # Plugin.pm: dir, nfs, cifs, glusterfs
    "snapshot": {"current": _QCOW2, "snap": _QCOW2},
    "clone": {"base": _IMAGE},
    "copy": {"base": _IMAGE, "current": _IMAGE, "snap": _QCOW2},
}
_LVM: Table = {  # LVMPlugin.pm (qcow2 only with snapshots as volume chains)
    "snapshot": {"current": _QCOW2, "snap": _QCOW2},
    "copy": {"base": frozenset({"qcow2", "raw"}), "current": frozenset({"qcow2", "raw"}), "snap": _QCOW2},
}
_BTRFS_ALL = frozenset({"qcow2", "raw", "subvol", "vmdk"})
_BTRFS: Table = {  # BTRFSPlugin.pm
    "snapshot": {"current": frozenset({"qcow2", "raw", "subvol"}), "snap": frozenset({"qcow2", "raw", "subvol"})},
    "clone": {"base": _BTRFS_ALL, "current": frozenset({"raw"}), "snap": frozenset({"raw"})},
    "copy": {"base": _BTRFS_ALL, "current": _BTRFS_ALL, "snap": frozenset({"qcow2", "raw", "subvol"})},
}
_THIN_RBD: Table = {  # LvmThinPlugin.pm, RBDPlugin.pm (RBD also snapshots a snapshot)
    "snapshot": {"current": None}, "clone": {"base": None, "snap": None},
    "copy": {"base": None, "current": None, "snap": None},
}
_ZFS: Table = {  # ZFSPoolPlugin.pm, ZFSPlugin.pm
    "snapshot": {"current": None, "snap": None}, "clone": {"base": None}, "copy": {"base": None, "current": None},
}
TABLES: dict[str, Table] = {
    "dir": _FILE, "nfs": _FILE, "cifs": _FILE, "glusterfs": _FILE, "lvm": _LVM, "btrfs": _BTRFS,
    "lvmthin": _THIN_RBD, "rbd": {**_THIN_RBD, "snapshot": {"current": None, "snap": None}},
    "zfspool": _ZFS, "zfs": _ZFS, "iscsi": {"copy": {"current": None}}, "iscsidirect": {"copy": {"current": None}},
}


def _format(volname: str) -> str:
    last = volname.rsplit("/", 1)[-1]
    if last.startswith("subvol-") or last.endswith(".subvol"):
        return "subvol"
    suffix = last.rpartition(".")[2] if "." in last else ""
    return suffix if suffix in ("qcow2", "raw", "vmdk") else "raw"


def volume_has_feature(mock: Mock, feature: str, volid: str, snapname: str | None,
                       target_formats: frozenset[str] | None = None) -> bool:
    """pve-storage src/PVE/Storage.pm volume_has_feature: a path (no storage) has none."""
    storeid, _, volname = volid.partition(":")
    if not volname:
        return False
    storage = mock.cluster.storages.get(storeid)
    if storage is None:
        raise PVEError(500, f"storage '{storeid}' does not exist\n")
    table = TABLES.get(storage.type, {})
    if (feature == "clone" and table is _FILE and target_formats is not None
            and "qcow2" not in target_formats):
        return False  # Plugin.pm: clone_image makes a qcow2 volume
    key = "snap" if snapname else ("base" if volname.rsplit("/", 1)[-1].startswith("base-") else "current")
    row = table.get(feature, {})
    if key not in row:
        return False
    formats = row[key]
    return formats is None or _format(volname) in formats


def _volumes(kind: Kind, config: dict[str, Any]) -> list[str]:
    """The volumes ``foreach_volume`` visits: drives (CD-ROMs left out) or rootfs and mount points."""
    keys = [k for k in config if kind.is_volume_key(k) and not k.startswith("unused")]
    if kind.name == "qemu":
        keys = [k for k in keys if not is_cdrom(str(config[k]))]
    return [volume_of(str(config[k])) or "" for k in keys]


def _shared_nodes(mock: Mock, guest: Guest, config: dict[str, Any], kind: Kind) -> list[str]:
    """qemu-server src/PVE/QemuServer.pm:2261-2295 shared_nodes."""
    nodes = set(mock.cluster.nodes)
    for volid in _volumes(kind, config):
        storage = mock.cluster.storages.get(volid.partition(":")[0]) if ":" in volid else None
        if storage is None:
            continue
        if str(storage.config.get("disable", "0")) not in ("0", ""):
            nodes = set()
        elif storage.nodes is not None:
            nodes &= set(storage.nodes)
        elif not storage.shared:
            nodes &= {guest.node}
    return sorted(nodes)


def feature(kind: Kind) -> Callable[[Mock, Call], dict[str, Any]]:
    """qemu-server API2/Qemu.pm vm_feature, pve-container API2/LXC.pm vm_feature (no ``nodes``);
    QemuConfig.pm:74-93 and LXC/Config.pm has_feature: every volume must have it."""
    def handler(mock: Mock, call: Call) -> dict[str, Any]:
        guest = guest_of(mock, call, kind)
        wanted = str(call.params["feature"])
        snapname = call.params.get("snapname")
        config = guest.config
        if snapname:
            snapshot = guest.snapshots.get(str(snapname))
            if snapshot is None:
                raise PVEError(500, f"snapshot '{snapname}' does not exist\n")
            config = snapshot.config
        # LXC/Config.pm: copies and clones of a container end as raw or subvol volumes
        formats = frozenset({"raw", "subvol"}) if kind.name == "lxc" and wanted in ("copy", "clone") else None
        has = all(volume_has_feature(mock, wanted, volid, str(snapname) if snapname else None, formats)
                  for volid in _volumes(kind, config))
        answer: dict[str, Any] = {"hasFeature": 1 if has else 0}
        if kind.name == "qemu":
            answer["nodes"] = _shared_nodes(mock, guest, config, kind)
        return answer
    return handler
