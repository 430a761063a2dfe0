"""Reads computed from the store and the cluster together, rather than kept: what PVE works out from
several configuration files at once (which guests no backup job covers, a node's replication jobs).
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from ...base import Call
from ..runtime import Mock
from . import defaults, firewall, sdn, tfa
from .layout import place

View = Callable[[Mock, Call], Any]


def _split(text: Any) -> list[str]:
    return [v for v in re.split(r"[,;\s]+", str(text or "")) if v]


def _covered(mock: Mock, job: Mapping[str, Any]) -> set[int]:
    """pve-manager PVE/VZDump.pm:1580-1617 get_included_guests: a pool's guests, the listed VMIDs, or
    all but the excluded ones; a job bound to a node covers only that node's guests."""
    guests = mock.cluster.guests
    if job.get("pool"):
        pool = mock.cluster.pools.get(str(job["pool"]))
        vmids = set(pool.vmids) if pool is not None else set()
    elif job.get("vmid"):
        vmids = {int(v) for v in _split(job["vmid"]) if v.isdigit()}
    elif job.get("all") and str(job["all"]) not in ("0", ""):
        vmids = set(guests) - {int(v) for v in _split(job.get("exclude")) if v.isdigit()}
    else:
        return set()
    node = job.get("node")
    return {v for v in vmids if node is None or v not in guests or guests[v].node == node}


def not_backed_up(mock: Mock, call: Call) -> list[dict[str, Any]]:
    """pve-manager PVE/API2/Cluster/BackupInfo.pm:16-29, :86-122: the guests no vzdump job includes,
    those the caller may audit."""
    covered: set[int] = set()
    for job in defaults.section(mock.cluster, "/cluster/backup", {}).values():
        if job.get("type", "vzdump") == "vzdump":
            covered |= _covered(mock, job)
    perms = mock.permissions
    out = []
    for vmid, guest in sorted(mock.cluster.guests.items()):
        if vmid in covered or not perms.check(call.identity, f"/vms/{vmid}", ["VM.Audit"], noerr=True):
            continue
        out.append({"vmid": vmid, "type": guest.kind, "name": guest.name})
    return out


_QEMU_DRIVES = [f"{bus}{i}" for bus, count in (("ide", 4), ("scsi", 31), ("virtio", 16), ("sata", 6))
                for i in range(count)] + ["efidisk0", "tpmstate0"]  # qemu-server Drive.pm valid_drive_names


def _backup_volumes(guest: Any) -> list[dict[str, Any]]:
    """qemu-server src/PVE/QemuConfig.pm:181-210 and pve-container src/PVE/LXC/Config.pm
    get_backup_volumes, mountpoint_backup_enabled: each disk or mount point, whether vzdump takes it, why."""
    config = guest.config
    out = []
    keys = _QEMU_DRIVES if guest.kind == "qemu" else ["rootfs"] + [f"mp{i}" for i in range(256)]
    for key in keys:
        if key not in config:
            continue
        head, _, rest = str(config[key]).partition(",")
        opts = dict(part.partition("=")[::2] for part in rest.split(",") if "=" in part)
        volume = opts.get("file") or opts.get("volume") or head
        if guest.kind == "qemu":
            if opts.get("media") == "cdrom" or volume in ("cdrom", "none"):
                continue
            included = str(opts.get("backup", "1")) not in ("0", "")
            # PVE words it from whether 'backup' is set at all, not from its value (QemuConfig.pm:190-192)
            reason = "backup=" + ("no" if "backup" in opts else "yes")
            if key == "efidisk0" and config.get("bios") != "ovmf":
                included, reason = False, "efidisk but no OVMF BIOS"
        elif key == "rootfs":
            included, reason = True, "rootfs"
        elif volume.startswith("/"):
            included, reason = False, "not a volume"
        else:
            included = str(opts.get("backup", "0")) not in ("0", "")
            reason = "enabled" if included else "disabled"
        out.append({"id": f"{guest.vmid}:{key}", "name": volume, "included": int(included), "reason": reason,
                    "leaf": 1})
    return out


def included_volumes(mock: Mock, call: Call) -> dict[str, Any]:
    """pve-manager PVE/API2/Backup.pm:656-848 get_volume_backup_included: the job's guests the caller may
    audit, each with its volumes (a VMID no guest has any more is 'unknown')."""
    job = defaults.section(mock.cluster, "/cluster/backup", {}).get(str(call.params["id"]), {})
    children: list[dict[str, Any]] = []
    for vmid in sorted(_covered(mock, job)):
        if not mock.permissions.check(call.identity, f"/vms/{vmid}", ["VM.Audit"], noerr=True):
            continue
        guest = mock.cluster.guests.get(vmid)
        if guest is None:
            children.append({"id": vmid, "type": "unknown", "leaf": 1})
            continue
        volumes = _backup_volumes(guest)
        name = guest.config.get("name" if guest.kind == "qemu" else "hostname")
        children.append({"id": vmid, "type": guest.kind, "name": name, "children": volumes,
                         "leaf": 0 if volumes else 1})
    return {"children": children}


def node_replication(mock: Mock, call: Call) -> list[dict[str, Any]]:
    """pve-manager PVE/API2/Replication.pm:225-242: the jobs of the guests on this node (job_status),
    ``guest`` filtering; the caller's VM.Audit filter is the in-code guard's (incode.py)."""
    node, wanted = str(call.params["node"]), call.params.get("guest")
    out = []
    for ident, job in sorted(defaults.section(mock.cluster, "/cluster/replication", {}).items()):
        guest_id, _, jobnum = ident.partition("-")
        guest = mock.cluster.guests.get(int(guest_id)) if guest_id.isdigit() else None
        if guest is None or guest.node != node or (wanted is not None and str(wanted) != guest_id):
            continue
        # pve-guest-common src/PVE/ReplicationState.pm:279-281 (job_status): the state's figures, the id and
        # the guest's type (prometheus-pve-exporter labels its metrics with it)
        out.append({**job, "id": ident, "guest": int(guest_id), "jobnum": int(jobnum or 0), "source": node,
                    "vmtype": guest.kind, "fail_count": 0})
    return out


def monitor(mock: Mock, call: Call) -> str:
    """qemu-server src/PVE/API2/Qemu.pm:5926-5933: the monitor's output (the mock's QEMU says nothing),
    or the error as text when the VM does not run."""
    guest = mock.guest(call.params["vmid"], str(call.params["node"]), "qemu")
    return "" if guest.status == "running" else f"ERROR: VM {guest.vmid} not running\n"


def sdn_lock(mock: Mock, call: Call) -> str:
    return sdn.take_lock(mock.cluster, call.params)


def sdn_unlock(mock: Mock, call: Call) -> None:
    sdn.release_lock(mock.cluster, call.params)


def sdn_rollback(mock: Mock, call: Call) -> None:
    sdn.rollback(mock.cluster, call.params)


def schedule_now(mock: Mock, call: Call) -> str:
    """pve-manager PVE/API2/Replication.pm:424-434: the job is rescheduled; no task, no text."""
    return ""


_KEY = re.compile(r"pve([1248])([cbsp])-(arm-)?[0-9a-f]{10}")  # pve-manager PVE/API2/Subscription.pm:33
_LEVELS = {"c": "Community", "b": "Basic", "s": "Standard", "p": "Premium"}
_PRICING = "https://www.proxmox.com/en/proxmox-virtual-environment/pricing"  # Subscription.pm:218
_DAY = 86400


def _subscription_place(call: Call) -> str:
    return place("/nodes/{node}/subscription", call.params)


def subscription(mock: Mock, call: Call) -> dict[str, Any]:
    """pve-manager PVE/API2/Subscription.pm:207-251: 'notfound' until a key is set; a set key reads as
    an active subscription of its level (the mock has no shop to ask), checked today, due in a year.
    The in-code guard (incode.py) leaves out all but status, message and url without Sys.Audit."""
    node = mock.node(str(call.params["node"]))
    server_id = hashlib.md5(node.name.encode(), usedforsecurity=False).hexdigest().upper()  # a MAC-derived id
    info = mock.cluster.store.singletons.get(_subscription_place(call))
    if not info:
        return {"status": "notfound", "message": "There is no subscription key", "url": _PRICING,
                "serverid": server_id}
    key = str(info["key"])
    match = _KEY.fullmatch(key)
    sockets, level = (match.group(1), match.group(2)) if match else ("1", "c")
    now = mock.clock.now()
    return {"status": "active", "key": key, "level": level, "serverid": server_id, "sockets": 1,
            "productname": f"Proxmox VE {_LEVELS[level]} Subscription {sockets} CPU/year",
            "regdate": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(int(info.get("set", now)))),
            "nextduedate": time.strftime("%Y-%m-%d", time.gmtime(int(info.get("set", now)) + 365 * _DAY)),
            "checktime": now, "url": _PRICING}


def set_subscription(mock: Mock, call: Call) -> None:
    """Subscription.pm:339-353: the key, trimmed (the schema's pattern has checked its form)."""
    key = str(call.params["key"]).strip()
    mock.cluster.store.singletons[_subscription_place(call)] = {"key": key, "set": mock.clock.now()}


def delete_subscription(mock: Mock, call: Call) -> None:
    mock.cluster.store.singletons.pop(_subscription_place(call), None)


def node_time(mock: Mock, call: Call) -> dict[str, Any]:
    """pve-manager PVE/API2/Nodes.pm:1690-1699: the node's clock; the mock's nodes keep UTC unless a
    timezone was set (PUT .../time keeps it)."""
    mock.node(str(call.params["node"]))
    kept = mock.cluster.store.singletons.get(place("/nodes/{node}/time", call.params)) or {}
    now = mock.clock.now()
    return {"timezone": kept.get("timezone", "UTC"), "time": now, "localtime": now}


VIEWS: Mapping[str, View] = {
    "GET /nodes/{node}/subscription": subscription,
    "PUT /nodes/{node}/subscription": set_subscription,
    "DELETE /nodes/{node}/subscription": delete_subscription,
    "GET /nodes/{node}/time": node_time,
    "GET /cluster/backup-info/not-backed-up": not_backed_up,
    "GET /cluster/backup/{id}/included_volumes": included_volumes,
    "GET /nodes/{node}/replication": node_replication,
    "POST /nodes/{node}/qemu/{vmid}/monitor": monitor,
    "POST /cluster/sdn/lock": sdn_lock,
    "DELETE /cluster/sdn/lock": sdn_unlock,
    "POST /cluster/sdn/rollback": sdn_rollback,
    "POST /nodes/{node}/replication/{id}/schedule_now": schedule_now,
    **tfa.VIEWS,
    **firewall.VIEWS,
}
