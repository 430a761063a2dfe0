"""Snapshots of both guest kinds (pve-guest-common AbstractConfig): a tree whose "current" hangs under ``parent``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ....errors import PVEError
from ...base import Call
from ..runtime import Handler, Mock
from ..state import Guest, Snapshot
from ._guest_common import Kind, check_lock, guest_of, worker
from ._guest_power import power_on
from ._params import flag


def _snapshot(guest: Guest, name: str) -> Snapshot:
    snap = guest.snapshots.get(name)
    if snap is None:
        raise PVEError(500, f"snapshot '{name}' does not exist\n")
    return snap


def _target(mock: Mock, call: Call, kind: Kind) -> tuple[Guest, Snapshot]:
    """The guest and the snapshot a ``.../snapshot/{snapname}...`` request names."""
    guest = guest_of(mock, call, kind)
    return guest, _snapshot(guest, call.path_params["snapname"])


def list_snapshots(kind: Kind) -> Handler:
    def handler(mock: Mock, call: Call) -> list[dict[str, Any]]:
        guest = guest_of(mock, call, kind)
        rows: list[dict[str, Any]] = []
        for snap in guest.snapshots.values():
            row: dict[str, Any] = {"name": snap.name, "description": snap.description, "snaptime": snap.snaptime}
            if snap.parent:
                row["parent"] = snap.parent
            if snap.vmstate:
                row["vmstate"] = 1
            rows.append(row)
        current: dict[str, Any] = {"name": "current", "digest": guest.digest, "description": "You are here!",
                                   "running": 1 if guest.status != "stopped" else 0}
        if guest.parent:
            current["parent"] = guest.parent
        rows.append(current)
        return rows
    return handler


def create_snapshot(kind: Kind) -> Handler:
    """The reserved names are refused before forking (qemu-server Qemu.pm:6212-6216, pve-container
    LXC/Snapshot.pm:152-156); the rest is checked in the worker (pve-guest-common AbstractConfig.pm:738-751)."""
    reserved = ("current", "pending") if kind.name == "qemu" else ("current", "vzdump")

    def handler(mock: Mock, call: Call) -> str:
        guest = guest_of(mock, call, kind)
        name = str(call.params["snapname"])
        for word in reserved:
            if (name.lower() if word == "pending" else name) == word:
                raise PVEError(500, f"unable to use snapshot name '{word}' (reserved name)\n")

        def checks() -> None:
            if guest.template:
                raise PVEError(500, "you can't take a snapshot if it's a template\n")
            check_lock(guest)
            if name in guest.snapshots:
                raise PVEError(500, f"snapshot name '{name}' already used\n")

        vmstate = kind.name == "qemu" and flag(call.params.get("vmstate")) and guest.status != "stopped"
        snap = Snapshot(name=name, config=dict(guest.config), parent=guest.parent, snaptime=mock.clock.now(),
                        description=str(call.params.get("description") or ""), vmstate=vmstate)
        if vmstate:
            snap.config["vmstate"] = f"{guest.config.get('vmstatestorage', 'local-lvm')}:vm-{guest.vmid}-state-{name}"

        def finish() -> None:
            guest.snapshots[name] = snap
            guest.parent = name
            guest.lock = None

        def begin() -> None:
            guest.lock = "snapshot"  # AbstractConfig.pm:746, until the worker ends

        return worker(mock, call, guest, f"{kind.task_prefix}snapshot", checks, finish, begin)
    return handler


def snapshot_index(kind: Kind) -> Handler:
    def handler(mock: Mock, call: Call) -> list[dict[str, Any]]:
        # Qemu.pm:6257-6265, LXC/Snapshot.pm:255: a static index, no guest or snapshot looked up
        return [{"cmd": "rollback"}, {"cmd": "config"}]
    return handler


def get_snapshot_config(kind: Kind) -> Handler:
    def handler(mock: Mock, call: Call) -> dict[str, Any]:
        _guest, snap = _target(mock, call, kind)
        config: dict[str, Any] = dict(snap.config)
        config["snaptime"] = snap.snaptime
        if snap.description:
            config["description"] = snap.description
        if snap.parent:
            config["parent"] = snap.parent
        if snap.vmstate:
            config["vmstate"] = config.get("vmstate", 1)
        return config
    return handler


def put_snapshot_config(kind: Kind) -> Handler:
    def handler(mock: Mock, call: Call) -> None:
        guest, snap = _target(mock, call, kind)
        check_lock(guest)
        if call.params.get("description") is not None:
            snap.description = str(call.params["description"])
        return None
    return handler


def rollback(kind: Kind) -> Handler:
    """Everything is checked in the worker (pve-guest-common AbstractConfig.pm:1134-1166): template,
    snapshot, lock."""
    def handler(mock: Mock, call: Call) -> str:
        guest = guest_of(mock, call, kind)
        name = str(call.path_params["snapname"])
        start = flag(call.params.get("start"))

        def checks() -> None:
            if guest.template:
                raise PVEError(500, "you can't rollback if vm is a template\n")
            _snapshot(guest, name)
            check_lock(guest)

        def finish() -> None:
            snap = guest.snapshots[name]
            keep_running = snap.vmstate and guest.status != "stopped"
            if not keep_running:
                guest.status, guest.pid, guest.started = "stopped", 0, 0
            guest.config = {k: v for k, v in snap.config.items() if k != "vmstate"}
            guest.pending.clear()
            guest.pending_delete.clear()
            guest.parent = name
            if start and guest.status == "stopped":
                power_on(mock, guest)

        return worker(mock, call, guest, f"{kind.task_prefix}rollback", checks, finish)
    return handler


def delete_snapshot(kind: Kind) -> Handler:
    """Checked in the worker (AbstractConfig.pm:930, then set_lock's check_lock :359); ``force`` only
    skips the replication check."""
    def handler(mock: Mock, call: Call) -> str:
        guest = guest_of(mock, call, kind)
        name = str(call.path_params["snapname"])

        def checks() -> None:
            _snapshot(guest, name)
            check_lock(guest)

        def finish() -> None:
            snap = guest.snapshots.pop(name)
            for other in guest.snapshots.values():
                if other.parent == name:
                    other.parent = snap.parent
            if guest.parent == name:
                guest.parent = snap.parent

        return worker(mock, call, guest, f"{kind.task_prefix}delsnapshot", checks, finish)
    return handler


def snapshot_routes(kind: Kind, base: str) -> dict[tuple[str, str], Callable[[Mock, Call], Any]]:
    snap = base + "/{vmid}/snapshot"
    return {
        ("GET", snap): list_snapshots(kind),
        ("POST", snap): create_snapshot(kind),
        ("GET", snap + "/{snapname}"): snapshot_index(kind),
        ("DELETE", snap + "/{snapname}"): delete_snapshot(kind),
        ("GET", snap + "/{snapname}/config"): get_snapshot_config(kind),
        ("PUT", snap + "/{snapname}/config"): put_snapshot_config(kind),
        ("POST", snap + "/{snapname}/rollback"): rollback(kind),
    }
