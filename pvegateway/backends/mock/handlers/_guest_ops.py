"""Guest operations on disks and placement: resize, move disk/volume, template, clone, migrate, destroy."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from ....errors import PVEError
from ...base import Call
from ..runtime import Handler, Mock
from ..state import Guest, Volume
from ..store.data import guest_place
from . import _volumes as vols
from ._guest_common import (
    QEMU,
    Kind,
    check_digest,
    check_lock,
    check_pool,
    check_vmid_unused,
    guest_of,
    ha_sid,
    is_cdrom,
    join_pool,
    next_mac,
    parse_size,
    split_prop,
    task,
    volume_of,
    with_size,
    worker,
)
from ._guest_devices import free_slot
from ._guest_power import discard
from ._params import flag


def _disk(mock: Mock, kind: Kind, guest: Guest, key: str, verb: str = "resize") -> tuple[str, Volume]:
    value = guest.config.get(key)
    if value is None or not kind.is_volume_key(key):
        if kind is QEMU:
            raise PVEError(500, f"disk '{key}' does not exist\n")
        # pve-container src/PVE/LXC/Config.pm:1450-1459: the absent mount point parses as '' (pve-common
        # src/PVE/JSONSchema.pm:1141-1144 raises the format error, 500 with the errors map)
        raise PVEError(500, "format error\n", {"volume": "property is missing and it is not optional"})
    if kind is QEMU and is_cdrom(str(value)):
        raise PVEError(500, f"you can't {verb} a cdrom\n")  # qemu-server Qemu.pm:6021 (resize), :4873 (move)
    volid = volume_of(str(value)) or ""
    volume = vols.find(mock, volid, guest.node)
    if volume is None:
        raise PVEError(500, f"volume '{volid}' does not exist\n")
    return str(value), volume


def _new_size(kind: Kind, current: int, size: int, grow: bool) -> int:
    new = current + size if grow else size
    if new < current:
        raise PVEError(500, "shrinking disks is not supported\n" if kind is QEMU else "unable to shrink disk size\n")
    if new == current and kind is not QEMU:
        raise PVEError(500, "disk is already at specified size\n")  # pve-container LXC.pm:2404
    return new


def resize(kind: Kind) -> Handler:
    """QEMU checks everything in the resize worker (qemu-server Qemu.pm:6001-6050: digest, lock, disk,
    cdrom, shrink); LXC makes the same checks before forking too (pve-container LXC.pm:2368-2405)."""
    def handler(mock: Mock, call: Call) -> str:
        guest = guest_of(mock, call, kind)
        key, text = str(call.params["disk"]), str(call.params["size"])
        grow = text.startswith("+")
        size = parse_size(text.lstrip("+"))

        def checks() -> None:
            if kind is QEMU:
                check_digest(guest, call.params)
                check_lock(guest, call.params)
            else:
                check_lock(guest, call.params)
                check_digest(guest, call.params)
            _, volume = _disk(mock, kind, guest, key)
            _new_size(kind, volume.size, size, grow)

        def finish() -> None:
            # PVE's worker reads the disk under the config lock: concurrent resizes add up, and an
            # option changed meanwhile is kept (what was checked above is checked again on current state)
            current, disk = _disk(mock, kind, guest, key)
            target = disk.size + size if grow else size
            if target < disk.size:
                raise PVEError(500, "shrinking disks is not supported\n" if kind is QEMU
                               else "unable to shrink disk size\n")
            disk.size = target
            guest.config[key] = with_size(current, target)

        if kind is QEMU:
            return worker(mock, call, guest, "resize", checks, finish)
        checks()
        return task(mock, call, guest, "resize", str(guest.vmid), finish=finish)
    return handler


def move(kind: Kind) -> Handler:
    """The early checks of qemu-server Qemu.pm:4862-4893 (made again before forking, :5193) and of
    pve-container LXC.pm:2594-2623 (:2901), in their order; disk reassignment (``target-vmid``) is
    not modelled."""
    def handler(mock: Mock, call: Call) -> str:
        guest = guest_of(mock, call, kind)
        params = call.params
        key = str(params.get("disk") or params.get("volume"))
        storeid = params.get("storage") or params.get("target-storage")
        if storeid is None:  # Qemu.pm:5201-5202, LXC.pm:2911-2912
            both = "both 'storage' and 'target-vmid' missing, either needs to be set"
            raise PVEError.params({"target-vmid": both, "storage": both})
        check_lock(guest, params)
        if kind is QEMU:
            check_digest(guest, params, assert_modified=True)
            value, volume = _disk(mock, kind, guest, key, "move")
        elif guest.status != "stopped":
            raise PVEError(500, "cannot move volumes of a running container\n")
        else:
            value, volume = _disk(mock, kind, guest, key, "move")
        store = vols.storage(mock, str(storeid), guest.node)
        fmt = str(params.get("format") or vols.default_format(store, kind.name))
        if kind is QEMU and store.storage == volume.storage and fmt == volume.format:
            raise PVEError(500, "you can't move to the same storage with same format\n")
        if kind is QEMU:  # Qemu.pm:4882-4883; LXC's move_volume checks no content type
            vols.check_content(store, "images", "storage")
        delete = flag(params.get("delete"))
        if delete and guest.snapshots:
            raise PVEError(500, "you can't move a disk with snapshots and delete the source\n" if kind is QEMU
                           else "you can't move a volume with snapshots and delete the source\n")
        if kind is not QEMU:
            check_digest(guest, params)

        def finish() -> None:
            new = vols.copy(mock, volume, store, guest.node, guest.vmid, fmt)
            _, opts = split_prop(value)
            opts.pop("file", None)
            guest.config[key] = with_size(",".join([new.volid, *(f"{k}={v}" for k, v in opts.items())]), new.size)
            if delete:
                vols.free(mock, volume.volid, volume.node)
            else:
                guest.config[free_slot(guest.config, "unused")] = volume.volid

        name = "qmmove" if kind is QEMU else "move_volume"
        return task(mock, call, guest, name, str(guest.vmid), finish=finish)
    return handler


def _volume_keys(kind: Kind, guest: Guest) -> list[str]:
    return [k for k, v in guest.config.items()
            if kind.is_volume_key(k) and not k.startswith("unused") and not (kind is QEMU and is_cdrom(str(v)))]


def template(kind: Kind) -> Handler:
    def handler(mock: Mock, call: Call) -> str | None:
        guest = guest_of(mock, call, kind)
        check_lock(guest)
        if guest.template:
            raise PVEError(500, "you can't convert a template to a template\n")
        if guest.status != "stopped":
            raise PVEError(500, "you can't convert a VM to template if VM is running\n" if kind is QEMU
                           else "you can't convert a CT to template if the CT is running\n")

        def finish() -> None:
            for key in _volume_keys(kind, guest):
                value = str(guest.config[key])
                volume = vols.find(mock, volume_of(value) or "", guest.node)
                if volume is not None:
                    new = vols.rename_base(mock, volume)
                    guest.config[key] = value.replace(volume.volid, new, 1)
            guest.config["template"] = "1"

        if kind is QEMU:
            return task(mock, call, guest, "qmtemplate", str(guest.vmid), finish=finish)
        finish()
        return None
    return handler


def clone(kind: Kind) -> Handler:
    def handler(mock: Mock, call: Call) -> str:
        source = guest_of(mock, call, kind)
        params = call.params
        newid = int(params["newid"])
        if kind is QEMU and newid in mock.cluster.guests:  # qemu-server Qemu.pm:4501-4502
            raise PVEError(500, f"unable to create VM {newid}: config file already exists\n")
        check_vmid_unused(mock, newid)
        check_pool(mock, params.get("pool"))
        target = str(params.get("target") or source.node)
        mock.node(target)
        full = flag(params.get("full"), default=not source.template)
        if not full and (params.get("storage") or params.get("format")):
            what = "storage" if params.get("storage") else "format"
            raise PVEError(500, f"parameter '{what}' not allowed for linked clones\n")
        store = vols.storage(mock, str(params["storage"]), target) if params.get("storage") else None
        snapname = params.get("snapname")
        config = dict(source.snapshots[str(snapname)].config) if snapname and snapname in source.snapshots \
            else dict(source.config)
        if snapname and snapname not in source.snapshots:
            raise PVEError(500, f"snapshot '{snapname}' does not exist\n")
        disks = _volume_keys(kind, source)
        for key in disks:
            volid = volume_of(str(config[key])) or ""
            if not full and not volid.partition(":")[2].startswith("base-"):
                raise PVEError(500, _no_linked_clone(kind, volid, key, snapname))
            store_of = store or mock.cluster.storages.get((volume_of(str(config[key])) or "").partition(":")[0])
            if target != source.node and not (store_of is not None and store_of.shared):
                raise PVEError(500, f"can't clone {kind.label} to node '{target}' ({kind.label} uses local storage)\n")
        if kind is QEMU:
            config["name"] = str(params.get("name") or f"Copy-of-VM-{source.name}")
        else:
            config["hostname"] = str(params.get("hostname") or f"Copy-of-CT-{source.name}")
        config.pop("template", None)
        if "description" in params:
            config["description"] = str(params["description"])
        clone_guest = Guest(vmid=newid, kind=kind.name, node=target, config={}, lock="clone")
        mock.cluster.guests[newid] = clone_guest
        # the firewall goes with the clone: qemu-server Qemu.pm:4617, pve-container LXC.pm:2053
        mock.cluster.store.copy_tree(guest_place(source.vmid), guest_place(newid))
        join_pool(mock, clone_guest, params.get("pool"))

        def finish() -> None:
            taken: set[str] = set()
            for key, value in config.items():
                text = str(value)
                if key in disks:
                    volume = vols.find(mock, volume_of(text) or "", source.node)
                    if volume is None:
                        continue
                    if full:
                        dest = store or mock.cluster.storages[volume.storage]
                        new = vols.copy(mock, volume, dest, target, newid, taken=taken)
                    else:
                        new = vols.linked(mock, volume, newid, taken)
                    taken.add(new.volid)
                    text = text.replace(volume.volid, new.volid, 1)
                elif key.startswith("unused"):
                    continue
                elif key.startswith("net"):
                    text = _new_mac(mock, kind, text)
                elif key == "smbios1":
                    text = f"uuid={uuid.uuid4()}" + "".join("," + p for p in text.split(",") if
                                                            not p.startswith("uuid="))
                elif key == "vmgenid":
                    text = str(uuid.uuid4())
                clone_guest.config[key] = text
            clone_guest.lock = None

        name = "qmclone" if kind is QEMU else "vzclone"
        return task(mock, call, source, name, str(source.vmid), finish=finish,
                    cancel=lambda: discard(mock, clone_guest))
    return handler


def _no_linked_clone(kind: Kind, volid: str, key: str, snapname: Any) -> str:
    """qemu-server Qemu.pm:4543-4562 (a snapshot's volume says so); pve-container LXC.pm:2093."""
    if kind is QEMU:
        return f"Linked clone feature is not supported for{' a snapshot of' if snapname else ''} '{volid}' ({key})\n"
    return f"Linked clone feature for '{volid}' is not available\n"


def _new_mac(mock: Mock, kind: Kind, value: str) -> str:
    parts = value.split(",")
    if kind is QEMU:
        model = parts[0].partition("=")[0]
        parts[0] = f"{model}={next_mac(mock)}"
    else:
        parts = [f"hwaddr={next_mac(mock)}" if p.startswith("hwaddr=") else p for p in parts]
    return ",".join(parts)


def migrate(kind: Kind) -> Handler:
    def handler(mock: Mock, call: Call) -> str:
        guest = guest_of(mock, call, kind)
        params = call.params
        target = str(params["target"])
        if target == guest.node:
            raise PVEError.params({"target": "target is local node."})
        if target not in mock.cluster.nodes:
            raise PVEError(500, f"no such cluster node '{target}'\n")
        running = guest.status != "stopped"
        online = flag(params.get("online"))
        if kind is QEMU:
            check_lock(guest)  # qemu-server Qemu.pm:5592
            if running and not online:
                raise PVEError(500, "can't migrate running VM without --online\n")
        elif running and not online and not flag(params.get("restart")):
            raise PVEError(500, "can't migrate running container without --online or --restart\n")  # LXC.pm:1695

        def checks() -> None:
            """pve-container src/PVE/LXC/Migrate.pm:48-52: the vzmigrate worker's own checks."""
            if kind is not QEMU:
                check_lock(guest)
                if running and online:
                    raise PVEError(500, "lxc live migration is currently not implemented\n")

        def finish() -> None:
            move_to(mock, guest, target)
            if running and kind is not QEMU:
                guest.started = mock.clock.now()

        return worker(mock, call, guest, "qmigrate" if kind is QEMU else "vzmigrate", checks, finish)
    return handler


def move_to(mock: Mock, guest: Guest, target: str) -> None:
    """A migration's effect: the guest and its volumes live on ``target`` from now on."""
    for volume in vols.owned(mock, guest.vmid, guest.node):
        vols.move_node(mock, volume, target)
    guest.node = target


def destroy(kind: Kind) -> Handler:
    """The early checks in PVE's order (qemu-server Qemu.pm:2826-2845: protection, HA, running; pve-container
    LXC.pm:857-879: protection, lock, HA, running unless ``force``); QEMU checks the lock in the worker's
    destroy_vm (QemuServer.pm:1848), and LXC's ``force`` stops a running CT there (LXC.pm:885-893)."""
    def handler(mock: Mock, call: Call) -> str:
        guest = guest_of(mock, call, kind)
        params = call.params
        if str(guest.config.get("protection", "0")) == "1":
            raise PVEError(500, f"can't remove {kind.label} {guest.vmid} - protection mode enabled\n")
        if kind is not QEMU:
            check_lock(guest, params)
        purge = flag(params.get("purge"))
        sid = ha_sid(guest)
        if not purge and (sid in mock.cluster.ha or str(guest.vmid) in mock.cluster.ha):
            raise PVEError(500, f"unable to remove {kind.label} {guest.vmid} - used in HA resources and purge "
                                f"parameter not set.\n")
        if guest.status != "stopped" and (kind is QEMU or not flag(params.get("force"))):
            raise PVEError(500, f"VM {guest.vmid} is running - destroy failed\n" if kind is QEMU
                           else f"unable to destroy CT {guest.vmid} - container is running\n")

        def checks() -> None:
            if kind is QEMU:
                check_lock(guest, params)

        def begin() -> None:
            guest.lock = "destroyed"

        def finish() -> None:
            guest.status, guest.pid, guest.started = "stopped", 0, 0
            for volume in vols.owned(mock, guest.vmid, guest.node):
                vols.free(mock, volume.volid, volume.node)
            for pool in mock.cluster.pools.values():
                if guest.vmid in pool.vmids:
                    pool.vmids.remove(guest.vmid)
            mock.cluster.ha.pop(sid, None)
            mock.cluster.ha.pop(str(guest.vmid), None)
            mock.cluster.guests.pop(guest.vmid, None)
            # remove_vmfw_conf: qemu-server Qemu.pm:2873, pve-container LXC.pm:907
            mock.cluster.store.drop(guest_place(guest.vmid))

        return worker(mock, call, guest, f"{kind.task_prefix}destroy", checks, finish, begin)
    return handler


def ops_routes(kind: Kind, base: str) -> dict[tuple[str, str], Callable[[Mock, Call], Any]]:
    item = base + "/{vmid}"
    return {
        ("PUT", item + "/resize"): resize(kind),
        ("POST", item + ("/move_disk" if kind is QEMU else "/move_volume")): move(kind),
        ("POST", item + "/template"): template(kind),
        ("POST", item + "/clone"): clone(kind),
        ("POST", item + "/migrate"): migrate(kind),
        ("DELETE", item): destroy(kind),
    }
