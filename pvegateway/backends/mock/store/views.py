"""Reads computed from the store and the cluster together, rather than kept: what PVE works out from
several configuration files at once (which guests no backup job covers, a node's replication jobs).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ....errors import PVEError
from ...base import Call
from ..handlers import _backups, _prune, _remote, _volumes
from ..runtime import Mock
from . import defaults, firewall, replication, sdn, subscription, tfa
from .layout import place

View = Callable[[Mock, Call], Any]


def _jobs(mock: Mock) -> Mapping[str, Mapping[str, Any]]:
    return {k: v for k, v in defaults.section(mock.cluster, "/cluster/backup", {}).items()
            if v.get("type", "vzdump") == "vzdump"}


def not_backed_up(mock: Mock, call: Call) -> list[dict[str, Any]]:
    """pve-manager PVE/API2/Cluster/BackupInfo.pm:16-29, :86-122: the guests no vzdump job includes
    (PVE/VZDump.pm:1580-1617), those the caller may audit."""
    covered: set[int] = set()
    for job in _jobs(mock).values():
        covered.update(v for vmids in _backups.included_guests(mock, job).values() for v in vmids)
    perms = mock.permissions
    out = []
    for vmid, guest in sorted(mock.cluster.guests.items()):
        if vmid in covered or not perms.check(call.identity, f"/vms/{vmid}", ["VM.Audit"], noerr=True):
            continue
        out.append({"vmid": vmid, "type": guest.kind, "name": guest.name})
    return out


def included_volumes(mock: Mock, call: Call) -> dict[str, Any]:
    """pve-manager PVE/API2/Backup.pm:742-846: the job's guests the caller may audit, each with the volumes
    a backup includes or leaves out and why; a VMID no guest has is 'unknown'."""
    ident = str(call.params["id"])
    job = _jobs(mock).get(ident)
    if job is None:
        raise PVEError.params({"id": f"No such job '{ident}'"})
    children: list[dict[str, Any]] = []
    for vmid in sorted(v for vmids in _backups.included_guests(mock, job).values() for v in vmids):
        if not mock.permissions.check(call.identity, f"/vms/{vmid}", ["VM.Audit"], noerr=True):
            continue
        guest = mock.cluster.guests.get(vmid)
        if guest is None:
            children.append({"id": vmid, "type": "unknown", "leaf": 1})
            continue
        disks = [{"id": f"{vmid}:{v['key']}", "name": v["volume"], "included": int(v["included"]),
                  "reason": v["reason"], "leaf": 1} for v in _backups.backup_volumes(guest)]
        name = guest.config.get("hostname" if guest.kind == "lxc" else "name") or ""
        children.append({"id": vmid, "type": guest.kind, "name": name, "children": disks, "leaf": int(not disks)})
    return {"children": children}


def vzdump_defaults(mock: Mock, call: Call) -> dict[str, Any]:
    """pve-manager PVE/API2/VZDump.pm:210-265, PVE/VZDump.pm:302-369 read_vzdump_defaults: the schema's
    defaults (the mock's nodes have no /etc/vzdump.conf), the asked storage or 'local', and that
    storage's retention; the caller's view is the in-code guard's (incode.py)."""
    mock.node(str(call.params["node"]))
    out: dict[str, Any] = {k: p["default"] for k, p in (call.operation.returns.get("properties") or {}).items()
                           if "default" in p and p.get("type") in ("string", "integer", "boolean", "number")}
    out["storage"] = str(call.params.get("storage") or "local")
    storage = mock.cluster.storages.get(out["storage"])
    if storage is None:
        raise PVEError(500, f"storage '{out['storage']}' does not exist\n")
    if "backup" not in storage.content:
        raise PVEError(500, f"can't use storage '{storage.storage}' for backups - wrong content type\n")
    if storage.config.get("prune-backups"):
        out["prune-backups"] = storage.config["prune-backups"]
    return out


def extractconfig(mock: Mock, call: Call) -> str:
    """pve-manager PVE/API2/VZDump.pm:296-313: the configuration file the backup holds."""
    volid = str(call.params["volume"])
    volume = _volumes.find(mock, volid, str(call.params["node"]))
    if volume is None or volume.content != "backup":
        raise PVEError(500, f"ERROR: file '{volid}' does not exist\n")  # pve-storage Storage.pm:1861
    return _backups.config_text(_backups.recorded_config(volume))


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


def prune_dry_run(mock: Mock, call: Call) -> list[dict[str, Any]]:
    """pve-storage src/PVE/API2/Storage/PruneBackups.pm:81-93: what a prune would keep and remove."""
    node = str(call.params["node"])
    storage = _volumes.storage(mock, str(call.params["storage"]), node)
    keep = _prune.policy(storage, call.params.get("prune-backups"))
    return _prune.prune_list(storage, node, keep, call.params.get("vmid"), call.params.get("type"))


def url_metadata(mock: Mock, call: Call) -> dict[str, Any]:
    """pve-manager PVE/API2/Nodes.pm query_url_metadata, for what the mock finds at the URL."""
    mock.node(str(call.params["node"]))
    return _remote.metadata(str(call.params["url"]))


def node_time(mock: Mock, call: Call) -> dict[str, Any]:
    """pve-manager PVE/API2/Nodes.pm:1690-1699: the node's clock; the mock's nodes keep UTC unless a
    timezone was set (PUT .../time keeps it)."""
    mock.node(str(call.params["node"]))
    kept = mock.cluster.store.singletons.get(place("/nodes/{node}/time", call.params)) or {}
    now = mock.clock.now()
    return {"timezone": kept.get("timezone", "UTC"), "time": now, "localtime": now}


VIEWS: Mapping[str, View] = {
    "GET /nodes/{node}/subscription": subscription.read,
    "PUT /nodes/{node}/subscription": subscription.set_key,
    "POST /nodes/{node}/subscription": subscription.check,
    "DELETE /nodes/{node}/subscription": subscription.delete,
    "GET /nodes/{node}/time": node_time,
    "GET /nodes/{node}/query-url-metadata": url_metadata,
    "GET /nodes/{node}/storage/{storage}/prunebackups": prune_dry_run,
    "GET /cluster/backup-info/not-backed-up": not_backed_up,
    "GET /cluster/backup/{id}/included_volumes": included_volumes,
    "GET /nodes/{node}/vzdump/defaults": vzdump_defaults,
    "GET /nodes/{node}/vzdump/extractconfig": extractconfig,
    "GET /nodes/{node}/replication": replication.node_jobs,
    "GET /nodes/{node}/replication/{id}/status": replication.job_status,
    "GET /nodes/{node}/replication/{id}/log": replication.job_log,
    "POST /nodes/{node}/qemu/{vmid}/monitor": monitor,
    "POST /cluster/sdn/lock": sdn_lock,
    "POST /nodes/{node}/replication/{id}/schedule_now": replication.schedule_now,
    "DELETE /cluster/sdn/lock": sdn_unlock,
    "POST /cluster/sdn/rollback": sdn_rollback,
    **tfa.VIEWS,
    **firewall.VIEWS,
}
