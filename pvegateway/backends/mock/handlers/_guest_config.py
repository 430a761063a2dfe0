"""Guest configuration: GET config/pending, and the update (PUT sync, POST async) with delete/revert/digest."""

from __future__ import annotations

import re
from typing import Any

from ....errors import PVEError
from ...base import Call
from ..runtime import Mock
from ..state import Guest
from . import _volumes as vols
from ._cloudinit import record_change
from ._guest_common import CONTROL, QEMU, Kind, check_digest, check_lock, guest_of, is_cdrom, task, typed, volume_of
from ._guest_devices import Plan, detach, plan_values
from ._guest_perms import lxc_update, qemu_update
from ._params import flag, id_list


def effective(guest: Guest) -> dict[str, Any]:
    """The config with pending changes applied (what GET config answers unless ``current=1``)."""
    config = dict(guest.config)
    config.update(guest.pending)
    for key in guest.pending_delete:
        config.pop(key, None)
    return config


def get_config(kind: Kind) -> Any:
    def handler(mock: Mock, call: Call) -> dict[str, Any]:
        guest = guest_of(mock, call, kind)
        snapname = call.params.get("snapshot")
        if snapname is not None:
            snap = guest.snapshots.get(str(snapname))
            if snap is None:
                raise PVEError(500, f"snapshot '{snapname}' does not exist\n")
            config = dict(snap.config)
        else:
            config = dict(guest.config) if flag(call.params.get("current")) else effective(guest)
        if guest.lock:
            config["lock"] = guest.lock
        if guest.parent and snapname is None:
            config["parent"] = guest.parent
        answer = typed(config, call.operation.returns)
        answer["digest"] = guest.digest
        return answer
    return handler


def get_pending(kind: Kind) -> Any:
    def handler(mock: Mock, call: Call) -> list[dict[str, Any]]:
        guest = guest_of(mock, call, kind)
        rows: list[dict[str, Any]] = []
        for key in sorted(set(guest.config) | set(guest.pending) | set(guest.pending_delete)):
            row: dict[str, Any] = {"key": key}
            if key in guest.config:
                row["value"] = guest.config[key]
            if key in guest.pending:
                row["pending"] = guest.pending[key]
            if key in guest.pending_delete:
                row["delete"] = 1
            rows.append(row)
        return rows
    return handler


def known_options(mock: Mock, call: Call) -> set[str]:
    props = call.operation.parameters.get("properties") or {}
    return {k for k in props if k not in CONTROL}


def _delete_conflicts(opt: str, changes: dict[str, str], reverts: list[str], key: str, both: str) -> None:
    if opt in changes:
        raise PVEError.params({"delete": f"you can't use '-{opt}' and -delete {opt}' at the same time"})
    if opt in reverts:
        raise PVEError.params({key: f"you can't use '{both} at the same time"})


def update(mock: Mock, call: Call, kind: Kind, guest: Guest, known: set[str] | None = None) -> None:
    """Validate everything, then apply: live where the running guest takes it, else into ``pending``."""
    params = call.params
    known = known_options(mock, call) if known is None else known
    # qemu-server Qemu.pm update_vm: with force a deleted disk's volume goes (vmconfig_delete_or_detach_drive)
    force = kind.name == "qemu" and flag(params.get("force"))
    changes = {k: str(v) for k, v in params.items() if k not in CONTROL and v is not None}
    changes.pop("start", None)
    deletes, reverts = id_list(params.get("delete")), id_list(params.get("revert"))
    if not changes and not deletes and not reverts:
        raise PVEError(500, "no options specified\n")
    qemu = kind.name == "qemu"
    for opt in reverts:
        if opt not in known:
            raise PVEError.params({"revert": f"unknown option '{opt}'"})
        if opt in changes:  # qemu-server Qemu.pm:2124-2125 (its key and quoting); LXC/Config.pm:190-191
            raise PVEError.params({"delete": f"you can't use '-{opt}' and -revert {opt}' at the same time"} if qemu
                                  else {"revert": f"you can't use '-{opt}' and '-revert {opt}' at the same time"})
    for opt in deletes:
        if qemu:  # Qemu.pm:2132-2145: the conflicts before the option's existence
            _delete_conflicts(opt, changes, reverts, "revert", f"-delete {opt}' and -revert {opt}'")
        if opt not in known and not opt.startswith("unused"):
            raise PVEError.params({"delete": f"unknown option '{opt}'"})
        if not qemu:  # pve-container src/PVE/LXC/Config.pm:196-207
            _delete_conflicts(opt, changes, reverts, "delete", f"-delete {opt}' and '-revert {opt}'")
    if kind.name == "qemu":
        qemu_update(mock, call, effective(guest), changes, deletes)
    check_lock(guest, params)
    check_digest(guest, params)
    if kind.name == "lxc":
        for opt in deletes:  # pve-container src/PVE/LXC/Config.pm:1320-1321, under the config lock
            if opt in ("memory", "rootfs", "ostype"):
                raise PVEError(500, f"unable to delete required option '{opt}'\n")
        lxc_update(mock, call, effective(guest), changes, deletes)
    plan = plan_values(Plan(mock, kind, guest.node, guest.vmid), changes)
    plan.commit()
    for opt in reverts:
        guest.pending.pop(opt, None)
        if opt in guest.pending_delete:
            guest.pending_delete.remove(opt)
    for opt in deletes:
        if opt not in guest.config and opt not in guest.pending:
            continue  # PVE only warns: "cannot delete 'x' - not set in current configuration!"
        guest.pending.pop(opt, None)
        if opt not in guest.config:
            continue
        # an unusedN volume goes at once, running or not (Qemu.pm update_vm, try_deallocate_drive)
        if kind.takes_live(opt, guest) or opt.startswith("unused"):
            remove(mock, guest, opt, force)
        elif opt not in guest.pending_delete:
            guest.pending_delete.append(opt)
    for key, value in plan.values.items():
        if kind.takes_live(key, guest):
            set_value(guest, key, value)
            guest.pending.pop(key, None)
            if key in guest.pending_delete:
                guest.pending_delete.remove(key)
        else:
            guest.pending[key] = value


def set_value(guest: Guest, key: str, value: str) -> None:
    kind_volume = volume_of(value)
    old = guest.config.get(key)
    record_change(guest, key, None if old is None else str(old), value)
    if old is not None and volume_of(str(old)) != kind_volume and key[:6] != "unused":
        detach(guest, key)
    for other in [k for k, v in guest.config.items() if k.startswith("unused") and str(v) == kind_volume]:
        del guest.config[other]
    guest.config[key] = value


_OWNER = re.compile(r"(?:^|:)(?:vm|base|subvol)-(\d+)-")


def remove(mock: Mock, guest: Guest, key: str, force: bool = False) -> None:
    """Delete an option; an ``unusedN`` volume (any disk's, with ``force``) is freed unless a snapshot
    still uses it; without ``force`` a disk's volume becomes ``unusedN``."""
    record_change(guest, key, str(guest.config[key]), None)
    if key.startswith("unused") or (force and QEMU.is_volume_key(key) and not is_cdrom(str(guest.config[key]))):
        volid = volume_of(str(guest.config.pop(key))) or ""
        in_snapshots = any(volume_of(str(v)) == volid for s in guest.snapshots.values() for v in s.config.values())
        # QemuServer.pm try_deallocate_drive: a volume of another guest only leaves the config
        owner = _OWNER.search(volid.rpartition("/")[2] or volid)
        if not in_snapshots and (owner is None or int(owner.group(1)) == guest.vmid):
            vols.free(mock, volid, guest.node)
        return
    detach(guest, key)


def apply_pending(mock: Mock, guest: Guest) -> None:
    """At start: pending values become the config (PVE's vmconfig_apply_pending)."""
    for key in list(guest.pending_delete):
        if key in guest.config:
            remove(mock, guest, key)
    for key, value in guest.pending.items():
        set_value(guest, key, value)
    guest.pending.clear()
    guest.pending_delete.clear()


def put_config(kind: Kind) -> Any:
    def handler(mock: Mock, call: Call) -> None:
        update(mock, call, kind, guest_of(mock, call, kind))
        return None
    return handler


def post_config(kind: Kind) -> Any:
    def handler(mock: Mock, call: Call) -> str:
        guest = guest_of(mock, call, kind)
        update(mock, call, kind, guest)
        return task(mock, call, guest, f"{kind.task_prefix}config", str(guest.vmid))
    return handler
