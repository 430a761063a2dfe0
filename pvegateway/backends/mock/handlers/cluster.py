"""Mock handlers: the cluster (pve-manager ``PVE/API2/Cluster.pm``) and its HA resources."""

from __future__ import annotations

import re
from typing import Any

from ....errors import PVEError
from ....http.envelope import Fragment
from ...base import Call, Identity
from ..runtime import Handler, Mock
from ..state import Guest
from ..store import sdn
from . import _ha
from . import _metrics as m
from ._qemu_status import qemu_status
from .nodes import audits_node, node_row

_VM_AUDIT = "VM.Audit"


def _can(mock: Mock, identity: Identity | None, path: str, *privs: str) -> bool:
    if identity is None:
        return True
    permissions = mock.permissions
    if permissions.holds_everywhere(identity):  # root: asked for every object listed
        return True
    have = permissions.privileges(identity, path)
    return any(p in have for p in privs)


def _ha_state(mock: Mock, guest: Guest) -> str | None:
    sid = f"{'vm' if guest.kind == 'qemu' else 'ct'}:{guest.vmid}"
    config = mock.cluster.ha.get(sid)
    if config is None:
        return None
    state = str(config.get("state", "started"))
    return {"enabled": "started", "disabled": "stopped"}.get(state, state)


def _guest_figures(mock: Mock, guest: Guest, now: int) -> dict[str, Any]:
    """pve-manager PVE/API2Tools.pm:81-119 extract_vm_stats over a 9.x ``pve-vm-9.0`` RRD row: every
    figure present (0 for a stopped guest), ``memhost`` for containers too (their row leaves it 0),
    a QEMU guest's status its qmpstatus (QemuServer's row, pvestatd.pm:341). A node offline reports
    nothing, so its guests' status stays 'unknown' with no figures."""
    node = mock.cluster.nodes.get(guest.node)
    if node is not None and not node.online:
        return {"id": f"{guest.kind}/{guest.vmid}", "type": guest.kind, "vmid": guest.vmid, "node": guest.node,
                "status": "unknown"}
    running = m.guest_running(guest)
    facts = m.config_facts(guest)
    entry: dict[str, Any] = {
        "id": f"{guest.kind}/{guest.vmid}", "vmid": guest.vmid, "node": guest.node, "type": guest.kind,
        "uptime": m.guest_uptime(mock, guest, now), "name": guest.name, "status": guest.status,
        "template": 1 if guest.template else 0, "maxcpu": facts.cpus, "cpu": 0.01 if running else 0,
        "maxmem": facts.maxmem, "mem": m.guest_mem(guest), "maxdisk": facts.maxdisk, "disk": 0,
        "netin": 0, "netout": 0, "diskread": 0, "diskwrite": 0, "memhost": 0,
    }
    if guest.kind == "qemu":
        status = qemu_status(mock, guest, full=True)  # what pvestatd writes to the RRD (pvestatd.pm:332)
        entry.update({k: status.get(k, 0) for k in ("maxmem", "mem", "memhost", "netin", "netout", "diskread",
                                                      "diskwrite")}, maxcpu=status["cpus"])
    return entry


# (kind, vmid) -> (everything a guest's row is made of, the row): ``/cluster/resources`` asks every
# guest's row on every read, and a running guest's figures change once a second. Compared with what the
# guest is made of now, so never stale; one per guest, and bounded (created guests leave theirs behind).
_ROWS: dict[tuple[str, int], tuple[tuple[Any, ...], Fragment]] = {}
_ROWS_MAX = 8192


def guest_row(mock: Mock, guest: Guest, now: int) -> Fragment:
    """``guest_resource``, kept while the guest is unchanged: the same Fragment (never to be changed;
    ``guest_resource`` gives a copy to add to)."""
    node = mock.cluster.nodes.get(guest.node)
    running = guest.status in m.RUNNING
    made_of = (tuple(guest.config.items()), guest.status, guest.lock, guest.pid, guest.started, guest.pool,
               guest.node, node.online if node is not None else None, node.cpus if node is not None else None,
               _ha_state(mock, guest), now if running else 0)
    slot = (guest.kind, guest.vmid)
    kept = _ROWS.get(slot)
    if kept is not None and kept[0] == made_of:
        return kept[1]
    row = Fragment(guest_resource(mock, guest, now))
    if len(_ROWS) >= _ROWS_MAX:
        _ROWS.clear()
    _ROWS[slot] = (made_of, row)
    return row


def guest_resource(mock: Mock, guest: Guest, now: int) -> dict[str, Any]:
    entry = _guest_figures(mock, guest, now)
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
    """API2Tools.pm:121-145 extract_storage_stats: no pool, whatever pool the storage is in."""
    out: list[dict[str, Any]] = []
    for storage in mock.cluster.storages.values():
        if not _can(mock, identity, f"/storage/{storage.storage}", "Datastore.Audit"):  # Cluster.pm:647
            continue
        if not m.storage_enabled(storage):
            continue
        content = m.storage_content(storage)
        for name, node in mock.cluster.nodes.items():
            if not storage.available_on(name):
                continue
            figures = m.storage_figures(storage, name)
            made_of = (storage.type, node.online, storage.shared, content, figures["total"], figures["used"])
            slot = (storage.storage, name)
            kept = _STORAGE_ROWS.get(slot)
            if kept is not None and kept[0] == made_of:
                out.append(kept[1])
                continue
            entry: dict[str, Any] = {
                "id": f"storage/{name}/{storage.storage}", "storage": storage.storage, "node": name,
                "type": "storage", "plugintype": storage.type, "status": "available" if node.online else "unknown",
                "shared": int(storage.shared), "content": content,
            }
            if node.online:
                entry.update(maxdisk=figures["total"], disk=figures["used"])
            row = Fragment(entry)
            if len(_STORAGE_ROWS) >= _ROWS_MAX:
                _STORAGE_ROWS.clear()
            _STORAGE_ROWS[slot] = (made_of, row)
            out.append(row)
    return out


# (storage, node) -> (what its row is made of, the row), as ``_ROWS``
_STORAGE_ROWS: dict[tuple[str, str], tuple[tuple[Any, ...], Fragment]] = {}


def _pool_entries(mock: Mock, identity: Identity | None, now: int) -> dict[str, dict[str, Any]]:
    """Cluster.pm:533-585: ``/pool/<id>`` entries; their figures sum the members that run, whether or not
    the caller may see those members."""
    pools: dict[str, dict[str, Any]] = {}
    for poolid in sorted(mock.cluster.pools):
        if _can(mock, identity, f"/pool/{poolid}", "Pool.Audit"):  # Cluster.pm:538
            pools[poolid] = {"id": f"/pool/{poolid}", "pool": poolid, "type": "pool"}
    for guest in sorted(mock.cluster.guests.values(), key=lambda g: g.vmid):
        pool = pools.get(guest.pool or "")
        if pool is None:  # the figures of a guest in no pool shown are not summed anywhere
            continue
        stats = guest_row(mock, guest, now)
        if not stats["uptime"]:
            continue
        pool["uptime"] = max(pool.get("uptime", 0), stats["uptime"])
        pool["mem"] = pool.get("mem", 0) + stats["mem"]
        pool["maxmem"] = pool.get("maxmem", 0) + stats["maxmem"]
        maxcpu = pool.get("maxcpu", 0)
        pool["cpu"] = (pool.get("cpu", 0) * maxcpu + stats["cpu"] * stats["maxcpu"]) / (maxcpu + stats["maxcpu"])
        pool["maxcpu"] = maxcpu + stats["maxcpu"]
    return pools


def resources(mock: Mock, call: Call) -> list[dict[str, Any]]:
    """Cluster.pm:509-727 in its order: pools (no ``type`` only), guests, nodes, storages, then the
    networks. A 9.x node sends the ``network`` key-value, so its SDN zones come as ``type: network``
    (the default zone ``localnetwork`` on every node) and ``type=sdn`` lists none (Cluster.pm:666-668)."""
    wanted = call.params.get("type")
    identity = call.identity
    now = mock.clock.now()
    out: list[dict[str, Any]] = []
    if wanted is None:
        out.extend(_pool_entries(mock, identity, now).values())
    if wanted in (None, "vm"):
        for guest in sorted(mock.cluster.guests.values(), key=lambda g: g.vmid):
            if _can(mock, identity, f"/vms/{guest.vmid}", _VM_AUDIT):
                entry: dict[str, Any] = guest_row(mock, guest, now)
                if guest.pool and not _can(mock, identity, f"/pool/{guest.pool}", "Pool.Audit"):
                    entry = {key: value for key, value in entry.items() if key != "pool"}  # Cluster.pm:596-601
                out.append(entry)
    if wanted in (None, "node"):
        loads = m.node_loads(mock)
        for name in mock.cluster.nodes:  # Cluster.pm:620-638: every node, figures with Sys.Audit only
            out.append(node_row(mock, name, now, audits_node(mock, call, name), loads, resources=True))
    if wanted in (None, "storage"):
        out.extend(_storage_resources(mock, identity))
    if wanted is None:  # Cluster.pm:661-684: 9.x nodes report 'network' rows, so no 'sdn' ones
        out.extend(e for e in sdn.network_resources(mock.cluster)
                   if _can(mock, identity, f"/sdn/zones/{e['network']}", "SDN.Audit"))  # Cluster.pm:239-260
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
