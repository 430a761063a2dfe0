"""A node's network configuration written through the API (pve-manager PVE/API2/Network.pm): create,
update and delete write ``interfaces.new`` with PVE's checks, ``PUT`` applies it in a ``srvreload`` task,
``DELETE`` reverts it. The configuration itself and the writer's checks are the store's
(:mod:`..store.interfaces`).
"""

from __future__ import annotations

import copy
import ipaddress
from collections.abc import Mapping
from typing import Any

from ....errors import PVEError
from ....schema.perl import split_list
from ...base import Call, Result
from ..runtime import Handler, Mock, user_of
from ..store import interfaces as store
from ..store import sdn
from ..store.values import deleted, typed

_KEPT_OUT = frozenset({"node", "iface", "delete", "digest"})
_BRIDGES = ("bridge", "OVSBridge")


def _params(call: Call) -> dict[str, Any]:
    """The call's interface options, typed as PVE's JSON answers them."""
    props = call.operation.parameters.get("properties") or {}
    return {k: typed(props.get(k), v) for k, v in call.params.items() if k not in _KEPT_OUT and v is not None}


def _param_error(key: str, text: str) -> PVEError:
    return PVEError.params({key: text})


def _check_duplicate(ifaces: Mapping[str, Mapping[str, Any]], iface: str, key: str, name: str) -> None:
    """Network.pm:517-534: one default gateway (and one IPv6 one) per node."""
    for other in sorted(ifaces):
        if other != iface and ifaces[other].get(key):
            raise _param_error(key, f"{name} already exists on interface '{other}'.")


def _check_gateways(ifaces: Mapping[str, Mapping[str, Any]], iface: str, params: Mapping[str, Any]) -> None:
    if params.get("gateway"):
        _check_duplicate(ifaces, iface, "gateway", "Default gateway")
    if params.get("gateway6"):
        _check_duplicate(ifaces, iface, "gateway6", "Default ipv6 gateway")


def _check_ports(ifaces: Mapping[str, Mapping[str, Any]], iface: str, params: Mapping[str, Any]) -> None:
    """Network.pm:536-567: a port belongs to one bridge or bond."""
    keys = [k for k in ("bridge_ports", "ovs_ports", "slaves", "ovs_bonds") if params.get(k)]
    wanted = set(store._ports(params))
    if not wanted:
        return
    for other in sorted(ifaces):
        if other == iface:
            continue
        for port in store._ports(ifaces[other]):
            if port in wanted:
                raise _param_error(keys[0], f"{port} is already used on interface '{other}'.")


def _map_cidr(params: dict[str, Any]) -> None:
    """Network.pm:593-620: ``cidr`` is address and netmask, and conflicts with either."""
    for suffix in ("", "6"):
        cidr = params.get(f"cidr{suffix}")
        if not cidr:
            continue
        for key in (f"address{suffix}", f"netmask{suffix}"):
            if params.get(key):
                raise _param_error(key, f"{key} conflicts with cidr{suffix}")
        address, _, mask = str(cidr).rpartition("/")
        params[f"address{suffix}"], params[f"netmask{suffix}"] = address, mask
        del params[f"cidr{suffix}"]


def _check_ipv6(address: str, netmask: int) -> None:
    """Network.pm:573-591 (the host-address type check left aside)."""
    if netmask < 0 or netmask > 128:
        raise _param_error("netmask", f"{netmask} is not a valid subnet length for ipv6")
    try:
        ipaddress.IPv6Address(address)
    except ValueError:
        raise _param_error("address", f"{address} is not a valid host IPv6 address.") from None


def _netmask6(params: Mapping[str, Any]) -> int:
    text = str(params.get("netmask6") or "0")
    return int(text) if text.lstrip("-").isdigit() else 0


def _methods(params: dict[str, Any], families: list[str]) -> None:
    """Network.pm:664-672, :776-790: the families and methods follow the addresses given."""
    for family, key in (("inet", "address"), ("inet6", "address6")):
        if params.get(key):
            if family not in families:
                families.append(family)
        elif family in families:
            families.remove(family)
    params["families"] = families or ["inet"]
    params["method"] = "static" if params.get("address") else "manual"
    params["method6"] = "static" if params.get("address6") else "manual"


def _vids(params: dict[str, Any]) -> str | None:
    """Network.pm:692-701: the VLAN list, space separated."""
    vids = params.get("bridge_vids")
    if not vids:
        return None
    items = split_list(str(vids))
    if not items:
        raise _param_error("bridge_vids", "VLAN list items are empty")
    return " ".join(items)


def _save(mock: Mock, node: str, ifaces: dict[str, dict[str, Any]]) -> None:
    """INotify write_file: the writer's checks, then interfaces.new."""
    store.store(mock.cluster, node, store.read_back(store.checked(ifaces)))


def _node(mock: Mock, call: Call) -> str:
    name = str(call.params["node"])
    mock.node(name)
    return name


def create(mock: Mock, call: Call) -> None:
    """Network.pm:622-713 create_network."""
    node, iface = _node(mock, call), str(call.params["iface"])
    ifaces = copy.deepcopy(store.written(mock.cluster, node))
    params = _params(call)
    if iface in ifaces:
        raise _param_error("iface", "interface already exists")
    _check_gateways(ifaces, iface, params)
    _check_ports(ifaces, iface, params)
    _map_cidr(params)
    if params.get("address6"):
        _check_ipv6(str(params["address6"]), _netmask6(params))
    _methods(params, [])
    if params["type"] in ("OVSIntPort", "OVSBond"):  # :679-690 (the mock's nodes have Open vSwitch)
        name = params.get("ovs_bridge")
        if not name:
            raise _param_error("ovs_bridge", "parameter is required")
        bridge = ifaces.get(str(name))
        if bridge is None:
            raise _param_error("ovs_bridge", f"bridge '{name}' does not exist")
        if bridge.get("type") != "OVSBridge":
            raise _param_error("ovs_bridge", f"interface '{name}' is no OVS bridge")
        ports = str(bridge.get("ovs_ports") or "").split()
        if iface not in ports:
            bridge["ovs_ports"] = " ".join([*ports, iface])
    vids = _vids(params)
    if vids is not None:
        params["bridge_vids"] = vids
    ifaces[iface] = params
    _save(mock, node, ifaces)


def update(mock: Mock, call: Call) -> None:
    """Network.pm:715-815 update_network: what is not given keeps its value, but the methods and families
    follow the addresses given (as the GUI sends them all)."""
    node, iface = _node(mock, call), str(call.params["iface"])
    ifaces = copy.deepcopy(store.written(mock.cluster, node))
    params = _params(call)
    if iface not in ifaces:
        raise _param_error("iface", "interface does not exist")
    entry = ifaces[iface]
    families = [str(f) for f in params.get("families") or []]
    for key in deleted(call.params):
        entry.pop(key, None)
        if key == "address":
            families = [f for f in families if f != "inet"]
        elif key == "address6":
            families = [f for f in families if f != "inet6"]
        elif key in ("cidr", "cidr6"):
            suffix = key[4:]
            entry.pop(f"netmask{suffix}", None)
            entry.pop(f"address{suffix}", None)
    _map_cidr(params)
    _check_gateways(ifaces, iface, params)
    _check_ports(ifaces, iface, params)
    if params.get("address6"):
        _check_ipv6(str(params["address6"]), _netmask6(params))
    _methods(params, families)
    entry.update(params)
    _vids(params)  # checked after the values are taken, as PVE does (:792-805)
    if not entry.get("address"):
        entry.pop("cidr", None)
    if not entry.get("address6"):
        entry.pop("cidr6", None)
    _save(mock, node, ifaces)


def remove(mock: Mock, call: Call) -> None:
    """Network.pm:952-1003 delete_network: an OVS port leaves its bridge's port list."""
    node, iface = _node(mock, call), str(call.params["iface"])
    ifaces = copy.deepcopy(store.written(mock.cluster, node))
    entry = ifaces.get(iface)
    if entry is None:
        raise _param_error("iface", "interface does not exist")
    if entry.get("type") in ("OVSIntPort", "OVSBond"):
        bridge = ifaces.get(str(entry.get("ovs_bridge") or ""))
        if bridge is not None and bridge.get("ovs_ports"):
            bridge["ovs_ports"] = " ".join(p for p in str(bridge["ovs_ports"]).split() if p != iface)
    del ifaces[iface]
    _save(mock, node, ifaces)


def reload(mock: Mock, call: Call) -> str:
    """Network.pm:881-950: the worker (``srvreload``, ``networking``) renames interfaces.new over the file
    in force and reloads."""
    node = _node(mock, call)

    def finish() -> None:
        store.apply(mock.cluster, node)

    return mock.tasks.start(node, "srvreload", "networking", user_of(call), finish=finish)


def revert(mock: Mock, call: Call) -> None:
    store.revert(mock.cluster, _node(mock, call))


# --- reads -------------------------------------------------------------------------------------------------

_TYPE_GROUPS = {"any_bridge": _BRIDGES, "any_local_bridge": _BRIDGES}


def _entries(mock: Mock, node: str) -> list[dict[str, Any]]:
    return [{"iface": iface, **entry} for iface, entry in store.written(mock.cluster, node).items()]


def index(mock: Mock, call: Call) -> Result:
    """Network.pm:408-488: the written configuration, the loopback left out, bridges only to those with
    SDN.Audit or SDN.Use on them (or a VLAN of them); ``changes`` the diff waiting (:414-418)."""
    node, wanted = _node(mock, call), call.params.get("type")
    entries = [e for e in _entries(mock, node) if e["iface"] != "lo"]
    if wanted and wanted != "include_sdn":
        kinds = _TYPE_GROUPS.get(str(wanted), (str(wanted),))
        entries = [e for e in entries if e["type"] in kinds]
    perms = mock.permissions
    if wanted in ("any_bridge", "include_sdn", "vnet"):  # :430-453: the node's vnets, those one may use
        entries += [{"iface": vnet, **entry} for vnet, zone, entry in sdn.local_vnets(mock.cluster.store, node)
                    if perms.check_sdn_bridge(call.identity, zone, vnet, ["SDN.Audit", "SDN.Use"], True)]
    shown = [e for e in entries if e["type"] not in _BRIDGES
             or perms.check_sdn_bridge(call.identity, "localnetwork", e["iface"], ["SDN.Audit", "SDN.Use"], True)]
    return Result(shown, changes=store.changes(mock.cluster, node, mock.clock.now()))


def read(mock: Mock, call: Call) -> dict[str, Any]:
    """Network.pm:844-859."""
    node, iface = _node(mock, call), str(call.params["iface"])
    entry = store.written(mock.cluster, node).get(iface)
    if entry is None:
        raise _param_error("iface", "interface does not exist")
    return {"iface": iface, **entry}


ROUTES: dict[tuple[str, str], Handler] = {
    ("GET", "/nodes/{node}/network"): index,
    ("POST", "/nodes/{node}/network"): create,
    ("PUT", "/nodes/{node}/network"): reload,
    ("DELETE", "/nodes/{node}/network"): revert,
    ("GET", "/nodes/{node}/network/{iface}"): read,
    ("PUT", "/nodes/{node}/network/{iface}"): update,
    ("DELETE", "/nodes/{node}/network/{iface}"): remove,
}
