"""Mock handlers: the cluster (pve-manager ``PVE/API2/Cluster.pm``) and its HA resources."""

from __future__ import annotations

import re
from typing import Any

from ....errors import PVEError
from ...base import Call, Identity
from ..runtime import Handler, Mock
from ..state import Guest
from . import _ha
from . import _metrics as m
from .nodes import audits_node, node_entry

_VM_AUDIT = "VM.Audit"


def _can(mock: Mock, identity: Identity | None, path: str, *privs: str) -> bool:
    if identity is None:
        return True
    have = mock.permissions.privileges(identity, path)
    return any(p in have for p in privs)


def _ha_state(mock: Mock, guest: Guest) -> str | None:
    sid = f"{'vm' if guest.kind == 'qemu' else 'ct'}:{guest.vmid}"
    config = mock.cluster.ha.get(sid)
    if config is None:
        return None
    state = str(config.get("state", "started"))
    return {"enabled": "started", "disabled": "stopped"}.get(state, state)


def guest_resource(mock: Mock, guest: Guest, now: int) -> dict[str, Any]:
    running = m.guest_running(guest)
    entry: dict[str, Any] = {
        "id": f"{guest.kind}/{guest.vmid}", "type": guest.kind, "vmid": guest.vmid, "name": guest.name,
        "node": guest.node, "status": guest.status, "template": 1 if guest.template else 0,
        "maxcpu": m.guest_cpus(guest), "cpu": 0.01 if running else 0, "maxmem": m.guest_maxmem(guest),
        "mem": m.guest_mem(guest), "maxdisk": m.guest_maxdisk(guest), "disk": 0,
        "uptime": m.guest_uptime(mock, guest, now), "netin": 0, "netout": 0, "diskread": 0, "diskwrite": 0,
    }
    if guest.kind == "qemu" and running:
        entry["memhost"] = entry["mem"]
    if guest.config.get("tags"):
        entry["tags"] = str(guest.config["tags"])
    if guest.pool:
        entry["pool"] = guest.pool
    if guest.lock:
        entry["lock"] = guest.lock
    hastate = _ha_state(mock, guest)
    if hastate:
        entry["hastate"] = hastate
    return entry


def _storage_resources(mock: Mock, identity: Identity | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for name, node in mock.cluster.nodes.items():
        for storage in mock.cluster.storages.values():
            if not storage.available_on(name) or not m.storage_enabled(storage):
                continue
            if not _can(mock, identity, f"/storage/{storage.storage}", "Datastore.Audit"):  # Cluster.pm:647
                continue
            figures = m.storage_figures(storage, name)
            entry: dict[str, Any] = {
                "id": f"storage/{name}/{storage.storage}", "type": "storage", "storage": storage.storage,
                "node": name, "status": "available" if node.online else "unknown",
                "content": m.storage_content(storage), "plugintype": storage.type, "shared": int(storage.shared),
            }
            if node.online:
                entry.update(disk=figures["used"], maxdisk=figures["total"])
            pool = next((p.poolid for p in mock.cluster.pools.values() if storage.storage in p.storages), None)
            if pool:
                entry["pool"] = pool
            out.append(entry)
    return out


def resources(mock: Mock, call: Call) -> list[dict[str, Any]]:
    wanted = call.params.get("type")
    identity = call.identity
    now = mock.clock.now()
    out: list[dict[str, Any]] = []
    if wanted in (None, "vm"):
        for guest in sorted(mock.cluster.guests.values(), key=lambda g: g.vmid):
            if _can(mock, identity, f"/vms/{guest.vmid}", _VM_AUDIT):
                entry = guest_resource(mock, guest, now)
                if guest.pool and not _can(mock, identity, f"/pool/{guest.pool}", "Pool.Audit"):
                    del entry["pool"]  # Cluster.pm:596-601
                out.append(entry)
    if wanted in (None, "node"):
        for name in mock.cluster.nodes:  # Cluster.pm:620-638: every node, figures with Sys.Audit only
            entry = node_entry(mock, name, now, audits_node(mock, call, name))
            entry.pop("ssl_fingerprint", None)
            entry["cgroup-mode"] = 2
            out.append(entry)
    if wanted in (None, "storage"):
        out.extend(_storage_resources(mock, identity))
    if wanted in (None, "sdn") and _can(mock, identity, "/sdn/zones/localnetwork", "SDN.Audit"):  # Cluster.pm:673
        for name, node in mock.cluster.nodes.items():
            out.append({"id": f"sdn/{name}/localnetwork", "type": "sdn", "sdn": "localnetwork", "node": name,
                        "status": "ok" if node.online else "unknown"})
    if wanted in (None, "pool"):
        for pool in mock.cluster.pools.values():
            if _can(mock, identity, f"/pool/{pool.poolid}", "Pool.Audit"):  # Cluster.pm:538
                out.append({"id": f"pool/{pool.poolid}", "type": "pool", "pool": pool.poolid})
    return out


def _next_range(mock: Mock) -> tuple[int, int]:
    text = str(mock.cluster.options.get("next-id", ""))
    found = dict(re.findall(r"(lower|upper)=(\d+)", text))
    return int(found.get("lower", 100)), int(found.get("upper", 1000 * 1000))


def nextid(mock: Mock, call: Call) -> str:
    """The lowest free VMID of the ``next-id`` range; PVE's answer is a string on the wire."""
    vmid = call.params.get("vmid")
    if vmid:
        if int(vmid) in mock.cluster.guests:
            raise PVEError.params({"vmid": f"VM {vmid} already exists"})
        return str(vmid)
    lower, upper = _next_range(mock)
    used = mock.cluster.guests
    for candidate in range(lower, upper):
        if candidate not in used:
            return str(candidate)
    raise PVEError(500, f"unable to get any free VMID in range [{lower}, {upper}]\n")


def status(mock: Mock, call: Call) -> list[dict[str, Any]]:
    nodes = list(mock.cluster.nodes.values())
    online = sum(1 for n in nodes if n.online)
    out: list[dict[str, Any]] = []
    if len(nodes) > 1:
        out.append({"id": "cluster", "type": "cluster", "name": mock.cluster.name, "nodes": len(nodes),
                    "quorate": int(online * 2 > len(nodes)), "version": len(nodes) + 1})
    for index, node in enumerate(nodes, start=1):
        out.append({"id": f"node/{node.name}", "type": "node", "name": node.name, "nodeid": index,
                    "ip": node.ip, "online": int(node.online), "local": int(index == 1), "level": ""})
    return out


def options(mock: Mock, call: Call) -> dict[str, Any]:
    """Cluster.pm:811-819: all of datacenter.cfg with Sys.Audit on '/', else only its GUI settings."""
    if mock.permissions.check(call.identity, "/", ["Sys.Audit"], noerr=True):
        return dict(mock.cluster.options)
    return {k: v for k, v in mock.cluster.options.items() if k in ("console", "tag-style")}


def index(mock: Mock, call: Call) -> list[dict[str, str]]:
    names = ["acme", "backup", "backup-info", "bulk-action", "ceph", "config", "firewall", "ha", "jobs",
             "log", "mapping", "metrics", "nextid", "notifications", "options", "replication", "resources",
             "sdn", "status", "tasks"]
    return [{"name": n} for n in names]


ROUTES: dict[tuple[str, str], Handler] = {
    ("GET", "/cluster"): index,
    ("GET", "/cluster/resources"): resources,
    ("GET", "/cluster/nextid"): nextid,
    ("GET", "/cluster/status"): status,
    ("GET", "/cluster/options"): options,
    ("GET", "/cluster/ha/resources"): _ha.index,
    ("POST", "/cluster/ha/resources"): _ha.create,
    ("GET", "/cluster/ha/resources/{sid}"): _ha.read,
    ("PUT", "/cluster/ha/resources/{sid}"): _ha.update,
    ("DELETE", "/cluster/ha/resources/{sid}"): _ha.delete,
    ("GET", "/cluster/ha/status/current"): _ha.status_current,
    ("GET", "/cluster/ha/status/manager_status"): _ha.manager_status,
    ("POST", "/cluster/ha/resources/{sid}/migrate"): _ha.motion("migrate"),
    ("POST", "/cluster/ha/resources/{sid}/relocate"): _ha.motion("relocate"),
}
