"""Mock handlers: nodes (pve-manager ``PVE/API2/Nodes.pm``, ``Network.pm``)."""

from __future__ import annotations

from typing import Any

from ....http.envelope import Fragment
from ...base import Call
from ..runtime import Handler, Mock
from ..state import Node
from . import _metrics as m
from . import _network
from ._certificates import node_certificates

PVE_VERSION = "9.2.11"
REPOID = "f6997e698c7933ea"  # pve-manager's "bump version to 9.2.11" commit, as a 16-digit short id
KERNEL = "6.14.8-2-pve"


def node_entry(mock: Mock, name: str, now: int, stats: bool = True,
               loads: dict[str, tuple[float, int]] | None = None) -> dict[str, Any]:
    """A node as ``extract_node_stats`` (pve-manager PVE/API2Tools.pm:38) reports it; without ``stats``
    (the caller has no Sys.Audit on the node) no uptime, CPU, memory or disk figures. ``loads``: every
    node's (``m.node_loads``), for a caller listing them all."""
    node = mock.cluster.nodes[name]
    entry: dict[str, Any] = {"node": node.name, "id": f"node/{node.name}", "type": "node",
                             "status": "online" if node.online else "offline",
                             "ssl_fingerprint": m.fingerprint(node), "level": ""}
    if node.online and stats:
        cpu, mem = loads[name] if loads is not None else m.node_load(mock, node)
        entry.update(cpu=cpu, maxcpu=node.cpus, mem=mem,
                     maxmem=node.memory, uptime=m.node_uptime(node, now), disk=4 * m.GiB, maxdisk=32 * m.GiB)
    return entry


# (node, for /cluster/resources) -> (everything its row is made of, the row): every read of /nodes or
# /cluster/resources asks each node's row, and an online node's uptime changes once a second
_ROWS: dict[tuple[str, bool], tuple[tuple[Any, ...], Fragment]] = {}
_ROWS_MAX = 1024


def node_row(mock: Mock, name: str, now: int, stats: bool, loads: dict[str, tuple[float, int]],
             resources: bool = False) -> Fragment:
    """``node_entry``, kept while the node and its load are unchanged (a Fragment: never to be changed);
    ``resources``: as /cluster/resources shows it (no fingerprint, the cgroup mode)."""
    node = mock.cluster.nodes[name]
    made_of = (node.online, node.cpus, node.memory, node.ip, stats, loads.get(name),
               now if node.online and stats else 0)
    slot = (name, resources)
    kept = _ROWS.get(slot)
    if kept is not None and kept[0] == made_of:
        return kept[1]
    entry = node_entry(mock, name, now, stats, loads)
    if resources:  # Cluster.pm:620-638
        entry.pop("ssl_fingerprint", None)
        entry["cgroup-mode"] = 2
    row = Fragment(entry)
    if len(_ROWS) >= _ROWS_MAX:
        _ROWS.clear()
    _ROWS[slot] = (made_of, row)
    return row


def audits_node(mock: Mock, call: Call, name: str) -> bool:
    return mock.permissions.check(call.identity, f"/nodes/{name}", ["Sys.Audit"], noerr=True)


def nodes_index(mock: Mock, call: Call) -> list[dict[str, Any]]:
    """pve-manager PVE/API2/Nodes.pm:2985-2993: every node, its figures only with Sys.Audit on it."""
    now = mock.clock.now()
    loads = m.node_loads(mock)
    return [node_row(mock, name, now, audits_node(mock, call, name), loads) for name in mock.cluster.nodes]


def node_index(mock: Mock, call: Call) -> list[dict[str, str]]:
    mock.node(str(call.params["node"]))
    names = ["aplinfo", "apt", "capabilities", "ceph", "certificates", "config", "disks", "dns", "firewall",
             "hardware", "hosts", "journal", "lxc", "netstat", "network", "qemu", "query-url-metadata",
             "replication", "report", "rrd", "rrddata", "scan", "sdn", "services", "spiceshell", "startall",
             "status", "stopall", "storage", "subscription", "syslog", "tasks", "termproxy", "time", "version",
             "vncshell", "vzdump", "wakeonlan"]
    return [{"name": n} for n in names]


def node_status(mock: Mock, call: Call) -> dict[str, Any]:
    node = mock.node(str(call.params["node"]))
    now = mock.clock.now()
    mem = m.node_mem(mock, node)
    cpu = m.node_cpu(mock, node)
    return {
        "uptime": m.node_uptime(node, now),
        "cpu": cpu,
        "wait": 0,
        "idle": 0,
        "loadavg": [f"{cpu * node.cpus:.2f}"] * 3,
        "kversion": f"Linux {KERNEL} #1 SMP PREEMPT_DYNAMIC PMX {KERNEL} (2025-07-01T00:00Z) x86_64",
        "pveversion": "pve-manager/{version}/{repoid}".format_map(_version_info(node)),
        "current-kernel": {"sysname": "Linux", "release": KERNEL, "machine": "x86_64",
                           "version": f"#1 SMP PREEMPT_DYNAMIC PMX {KERNEL} (2025-07-01T00:00Z)"},
        "boot-info": {"mode": "efi", "secureboot": 0},
        "cpuinfo": {"model": "QEMU Virtual CPU version 2.5+", "cpus": node.cpus, "sockets": node.sockets,
                    "cores": node.cpus, "mhz": "2400.000", "hvm": "1", "flags": "fpu vme de pse tsc msr pae",
                    "user_hz": 100},
        "memory": {"total": node.memory, "used": mem, "free": node.memory - mem, "available": node.memory - mem},
        "swap": {"total": 8 * m.GiB, "used": 0, "free": 8 * m.GiB},
        "rootfs": {"total": 32 * m.GiB, "used": 4 * m.GiB, "free": 28 * m.GiB, "avail": 26 * m.GiB},
        "ksm": {"shared": 0},
    }


def _version_info(node: Node | None) -> dict[str, str]:
    """pve-manager PVE/pvecfg.pm version_info of ``node`` (None: the mock's own); the release is the
    version's first two parts (Makefile:4)."""
    version = (node.version if node is not None else None) or PVE_VERSION
    repoid = (node.repoid if node is not None else None) or REPOID
    return {"version": version, "release": version.rsplit(".", 1)[0], "repoid": repoid}


def node_version(mock: Mock, call: Call) -> dict[str, str]:
    return _version_info(mock.node(str(call.params["node"])))


# the answers of GET /version, kept encoded by what they are made of (a client polls it, and each of a
# tool's calls may start with it): few distinct ones, bounded all the same
_VERSIONS: dict[tuple[object, str | None, str | None], Fragment] = {}
_VERSIONS_MAX = 64


def version(mock: Mock, call: Call) -> dict[str, str]:
    """pve-manager PVE/API2.pm:120-136: datacenter.cfg's ``console`` only when it is set."""
    # the node the client talks to answers with its own version: the mock answers as its first node
    node = next(iter(mock.cluster.nodes.values()), None)
    key = (mock.cluster.options.get("console"), node.version if node is not None else None,
           node.repoid if node is not None else None)
    kept = _VERSIONS.get(key)
    if kept is None:
        answer = {"console": str(key[0])} if key[0] is not None else {}
        answer.update(_version_info(node))
        kept = Fragment(answer)
        if len(_VERSIONS) >= _VERSIONS_MAX:
            _VERSIONS.clear()
        _VERSIONS[key] = kept
    return kept


def certificates_info(mock: Mock, call: Call) -> list[dict[str, Any]]:
    return node_certificates(mock.node(str(call.params["node"])))


ROUTES: dict[tuple[str, str], Handler] = {
    ("GET", "/nodes"): nodes_index,
    ("GET", "/nodes/{node}"): node_index,
    ("GET", "/nodes/{node}/status"): node_status,
    ("GET", "/nodes/{node}/version"): node_version,
    ("GET", "/version"): version,
    ("GET", "/nodes/{node}/certificates/info"): certificates_info,
    **_network.ROUTES,
}
