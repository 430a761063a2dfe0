"""Restoring a vzdump backup as a guest: ``POST /nodes/{node}/qemu`` with ``archive`` (qemu-server
src/PVE/API2/Qemu.pm:1266-1600) and ``POST /nodes/{node}/lxc`` with ``restore=1`` (pve-container
src/PVE/API2/LXC.pm:278-640). The guest gets the configuration the backup records, the options the call
gives over it, and new volumes of the recorded sizes; ``force`` replaces an existing guest of the node.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from ....errors import PVEError
from ...base import Call
from ..runtime import Mock, user_of
from ..state import Guest, Volume
from . import _backups
from . import _volumes as vols
from ._guest_common import LXC, QEMU, Kind, check_pool, disk_size, is_cdrom, join_prop, split_prop, volume_of
from ._guest_devices import Plan, plan_values
from ._guest_power import add_created, discard
from ._params import flag
from ._volume_access import volume_kind
from .storage import volume_path

GiB = 1024**3


def _archive(mock: Mock, kind: Kind, volid: str, node: str) -> Volume:
    """pve-storage Storage.pm:626-627 check_volume_access (a backup, even for root), then the file: QEMU
    looks for it before any task (Storage.pm:784 abs_filesystem_path)."""
    found = volume_kind(mock, volid, node)
    if found is not None and found[0] != "backup":
        raise PVEError(500, f"unable to use volume {volid} - content type needs to be 'backup'\n")
    if kind is QEMU and vols.find(mock, volid, node) is None:
        raise PVEError(500, f"can't find file '{volid}'\n")
    return vols.require(mock, volid, node)


def _as_new_disks(kind: Kind, recorded: Mapping[str, str], target: str | None) -> dict[str, str]:
    """The recorded volumes as new ones (``STORAGE:SIZE``) on ``target`` or the storage they were on; the
    volumes the backup left out and unused ones are not restored."""
    guest = Guest(vmid=0, kind=kind.name, node="", config=dict(recorded))
    included = {v["key"] for v in _backups.backup_volumes(guest) if v["included"]}
    out: dict[str, str] = {}
    for key, value in recorded.items():
        if key == "lock" or key.startswith("unused"):
            continue
        if not kind.is_volume_key(key) or (kind.name == "qemu" and is_cdrom(value)):
            out[key] = value
            continue
        if key not in included:
            continue
        head, opts = split_prop(value)
        source = (volume_of(value) or head or "").partition(":")[0]
        size = disk_size(value) or GiB
        opts.pop("size", None)
        opts.pop("volume", None)
        gib = format(Decimal(size) / GiB, "f")  # exact, and never in exponent form (NEW_DISK reads it)
        out[key] = join_prop(f"{target or source}:{gib}", opts)
    return out


def _replace(kind: Kind, existing: Guest | None) -> str | None:
    """The restore over an existing guest (``force``): the failure its worker ends with, if any."""
    if existing is None:
        return None
    label = "VM" if kind.name == "qemu" else "CT"
    if existing.status != "stopped":  # Qemu.pm:1391; LXC.pm:282 fails before the task
        if kind.name == "lxc":
            raise PVEError(500, "can't overwrite running container\n")
        return f"unable to restore {label} {existing.vmid} - vm is running"
    if existing.config.get("protection") in ("1", 1):  # AbstractConfig.pm:389-395 with the handler's prefix
        if kind.name == "lxc":
            raise PVEError(500, f"unable to restore CT {existing.vmid} - protection mode enabled\n")
        return f"unable to restore VM {existing.vmid} - - protection mode enabled"
    return None


def _unreadable(mock: Mock, kind: Kind, volume: Volume, vmid: int) -> str | None:
    """What the worker fails with when the archive is not the guest type's or holds no configuration:
    qemu-server QemuServer.pm:7759 (a tar archive, named by its path); pve-container's recover_config
    through pve-storage Storage.pm:1878, under the handler's prefix (LXC.pm:420)."""
    recorded = _backups.archive_kind(volume.volid)
    if kind is QEMU and recorded != "qemu":
        path = volume_path(mock.cluster.storages[volume.storage], volume)
        return f"ERROR: file '{path}' does not look like a QemuServer vzdump backup"
    if recorded != kind.name or volume.config is None:
        prefix = "" if kind is QEMU else f"unable to restore CT {vmid} - "
        return f"{prefix}ERROR: archive contains no configuration file"
    return None


def _failed(mock: Mock, call: Call, kind: Kind, existing: Guest | None, failure: str, volid: str) -> str:
    """A restore whose worker fails: QEMU leaves the config the call wrote, unlocked (empty for a new VM:
    Qemu.pm:1581-1594); LXC removes a new container's (LXC.pm:611-620)."""
    node, vmid = call.path_params["node"], int(call.params["vmid"])
    if kind is QEMU:
        if existing is None:
            mock.cluster.guests[vmid] = Guest(vmid=vmid, kind="qemu", node=node, config={})
        log = [f"error before or during data restore, some or all disks were not completely restored. "
               f"VM {vmid} state is NOT cleaned up."]
    else:
        log = [f"recovering backed-up configuration from '{volid}'"]
    return mock.tasks.start(node, f"{kind.task_prefix}restore", str(vmid), user_of(call), log=log, error=failure)


def restore(mock: Mock, call: Call, kind: Kind, override: Mapping[str, str]) -> str:
    """The restore task (``qmrestore``/``vzrestore``); ``override`` holds the call's own options."""
    params = call.params
    node = mock.node(call.path_params["node"]).name
    vmid = int(params["vmid"])
    volid = str(params["archive"] if kind is QEMU else params["ostemplate"])
    existing = mock.cluster.guests.get(vmid)
    if existing is not None and not (flag(params.get("force")) and existing.node == node):
        prefix = f"unable to restore VM {vmid} - " if kind is QEMU else ""  # Qemu.pm:1378-1379
        raise PVEError(500, f"{prefix}{'VM' if existing.kind == 'qemu' else 'CT'} {vmid} already exists on node "
                            f"'{existing.node}'\n")
    check_pool(mock, params.get("pool"))
    volume = _archive(mock, kind, volid, node)
    target = params.get("storage")
    if kind is LXC and "rootfs" not in override:
        target = str(target or "local")  # LXC.pm:322: storage-only mode puts every volume there
        store = vols.storage(mock, target, node)
        if "rootdir" not in store.content:  # LXC.pm:357-359
            raise PVEError.params({"storage": f"storage '{target}' does not support container directories"})
    failure = _replace(kind, existing) or _unreadable(mock, kind, volume, vmid)
    if failure is None and kind is QEMU and flag(params.get("live-restore")):  # Qemu.pm:1420-1422
        failure = "live-restore is only compatible with backup images from a Proxmox Backup Server"
    if failure is not None:
        return _failed(mock, call, kind, existing, failure, volid)
    values = {**_as_new_disks(kind, _backups.recorded_config(volume), str(target) if target else None), **override}
    if flag(params.get("unique")):  # new MAC addresses: without one, the NIC gets a new one
        for key in [k for k in values if k.startswith("net") and k not in override]:
            parts = values[key].split(",")
            if kind is QEMU:
                values[key] = ",".join([parts[0].split("=", 1)[0], *parts[1:]])
            else:
                values[key] = ",".join(p for p in parts if not p.startswith("hwaddr="))
    # the old disks go first (PVE's restore replaces them), and come back should the plan fail
    replaced = vols.owned(mock, vmid, node) if existing is not None else []
    for volume in replaced:
        vols.free(mock, volume.volid, volume.node)
    try:
        plan = plan_values(Plan(mock, kind, node, vmid), values)
    except PVEError:
        for volume in replaced:
            mock.cluster.storages[volume.storage].bucket(volume.node)[volume.volid] = volume
        raise
    if existing is not None:
        discard(mock, existing)
    guest = Guest(vmid=vmid, kind=kind.name, node=node, config=dict(plan.values))
    return add_created(mock, call, guest, f"{kind.task_prefix}restore", plan)
