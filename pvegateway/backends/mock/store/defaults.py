"""Collections a fresh cluster already has, and the one way to read or change any store collection.

A node's interfaces come from its seed entry (address, bridges) and the realms are PVE's two built-in
ones, until the first write copies them into the store: from then on the store holds them, so what a
client adds is what every reader sees (the realistic handlers of the realm list and the interfaces,
guests checking their bridges, user ids checking their realm).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from ..state import Cluster
from .layout import place

Section = dict[str, dict[str, Any]]

REALMS = "/access/domains"
INTERFACES = "/nodes/{node}/network"
HA_GROUPS = "/cluster/ha/groups"


def _realms(cluster: Cluster, values: Mapping[str, Any]) -> Section:
    """pve-access-control: domains.cfg always holds pam and pve (Domains.pm:155-159 reserves them)."""
    return {"pam": {"type": "pam", "comment": "Linux PAM standard authentication"},
            "pve": {"type": "pve", "comment": "Proxmox VE authentication server"}}


def _interfaces(cluster: Cluster, values: Mapping[str, Any]) -> Section:
    """A node's /etc/network/interfaces: loopback, one NIC and its bridges, the first holding its address."""
    node = cluster.nodes.get(str(values.get("node")))
    if node is None:
        return {}
    prefix = ".".join(node.ip.split(".")[:3])
    out: Section = {
        "lo": {"type": "loopback", "method": "loopback", "method6": "manual", "autostart": 1, "active": 1,
               "families": ["inet"], "priority": 1},
        "eno1": {"type": "eth", "method": "manual", "method6": "manual", "exists": 1, "active": 1,
                 "families": ["inet"], "priority": 2},
    }
    for index, bridge in enumerate(node.bridges):
        entry: dict[str, Any] = {"type": "bridge", "method": "manual", "method6": "manual", "autostart": 1,
                                 "active": 1, "families": ["inet"], "priority": 3 + index,
                                 "bridge_ports": "eno1" if index == 0 else "", "bridge_stp": "off",
                                 "bridge_fd": "0"}
        if index == 0:
            entry.update(method="static", address=node.ip, netmask="24", cidr=f"{node.ip}/24",
                         gateway=f"{prefix}.1")
        out[bridge] = entry
    return out


def _corosync_nodes(cluster: Cluster, values: Mapping[str, Any]) -> Section:
    """pve-cluster src/PVE/API2/ClusterConfig.pm:193-198: corosync.conf's node list, one entry per node."""
    return {name: {"name": name, "nodeid": index, "quorum_votes": 1, "ring0_addr": node.ip}
            for index, (name, node) in enumerate(cluster.nodes.items(), start=1)}


def _ipams(cluster: Cluster, values: Mapping[str, Any]) -> Section:
    """pve-network src/PVE/Network/SDN/Ipams.pm:101-106: the built-in 'pve' IPAM is always there."""
    return {"pve": {"type": "pve"}}


DEFAULTS: Mapping[str, Callable[[Cluster, Mapping[str, Any]], Section]] = {
    REALMS: _realms,
    INTERFACES: _interfaces,
    "/cluster/config/nodes": _corosync_nodes,
    "/cluster/sdn/ipams": _ipams,
}


def _dns(cluster: Cluster, values: Mapping[str, Any]) -> dict[str, Any]:
    """A node's /etc/resolv.conf as the installer writes it: its domain and the gateway as resolver."""
    node = cluster.nodes.get(str(values.get("node")))
    gateway = ".".join(node.ip.split(".")[:3]) + ".1" if node is not None else "192.0.2.1"
    return {"search": "example.com", "dns1": gateway}


def _hosts(cluster: Cluster, values: Mapping[str, Any]) -> dict[str, Any]:
    """A node's /etc/hosts as the installer writes it: localhost and the node's own name."""
    node = cluster.nodes.get(str(values.get("node")))
    own = f"{node.ip} {node.name}.example.com {node.name}\n" if node is not None else ""
    return {"data": f"127.0.0.1 localhost.localdomain localhost\n{own}"}


# singletons a fresh node already has
SINGLETON_DEFAULTS: Mapping[str, Callable[[Cluster, Mapping[str, Any]], dict[str, Any]]] = {
    "/nodes/{node}/dns": _dns,
    "/nodes/{node}/hosts": _hosts,
}


def section(cluster: Cluster, template: str, values: Mapping[str, Any]) -> Section:
    """The collection ``template`` names at ``values``, to read (never change what this returns)."""
    kept = cluster.store.sections.get(place(template, values))
    if kept is not None:
        return kept
    default = DEFAULTS.get(template)
    return default(cluster, values) if default is not None else {}


def writable(cluster: Cluster, template: str, values: Mapping[str, Any]) -> Section:
    """The collection, to change: a default one is copied into the store first."""
    where = place(template, values)
    kept = cluster.store.sections.get(where)
    if kept is None:
        kept = cluster.store.sections[where] = copy.deepcopy(section(cluster, template, values))
    return kept


def realms(cluster: Cluster) -> Section:
    return section(cluster, REALMS, {})


def interfaces(cluster: Cluster, node: str) -> Section:
    return section(cluster, INTERFACES, {"node": node})
