"""SDN's two configurations: the one the API writes (``/etc/pve/sdn/*.cfg``, the store's sections) and the
running one the last apply committed (``sdn/.running-config``, the store's ``running``), and the global lock
(``/etc/pve/sdn/.lock``) every write checks its ``lock-token`` against.

pve-network src/PVE/Network/SDN.pm: the zones, vnets, subnets and controllers are committed together
(compile_running_cfg, :190-227) and read back with ``running=1``, or annotated with ``pending=1``
(pending_config, :133-188); IPAMs and DNS servers have no running state.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from ....errors import PVEError
from ....schema.perl import split_list, truthy
from ..state import Cluster
from .data import ConfigData

Section = dict[str, dict[str, Any]]

# the places compile_running_cfg commits: zones.cfg, vnets.cfg, subnets.cfg (the store keeps a vnet's subnets
# under the vnet), controllers.cfg
_COMMITTED = re.compile(r"/cluster/sdn/(zones|vnets|controllers|vnets/[^/]+/subnets)")
COMMITTED_TEMPLATES = frozenset({"/cluster/sdn/zones", "/cluster/sdn/vnets", "/cluster/sdn/vnets/{vnet}/subnets",
                                 "/cluster/sdn/controllers"})

# what each collection's writes call themselves under lock_sdn_config ("$errmsg: $err", SDN.pm:300-309):
# src/PVE/API2/Network/SDN/<Kind>s.pm create/update/delete
_LOCKED_KINDS: Mapping[str, str] = {
    "/cluster/sdn/zones": "zone", "/cluster/sdn/vnets": "vnet", "/cluster/sdn/vnets/{vnet}/subnets": "subnet",
    "/cluster/sdn/controllers": "controller", "/cluster/sdn/ipams": "ipam", "/cluster/sdn/dns": "dns",
}
_VERBS: Mapping[str, str] = {"POST": "create", "PUT": "update", "DELETE": "delete"}

_LOCK = "/cluster/sdn/lock"  # where the store keeps /etc/pve/sdn/.lock's token
# Perl's location suffix of a die without a newline (the installed module's path, its line in the sources)
_SDN_PM = "/usr/share/perl5/PVE/Network/SDN.pm"
_SDN_API_PM = "/usr/share/perl5/PVE/API2/Network/SDN.pm"


def _committed(place: str) -> bool:
    return _COMMITTED.fullmatch(place) is not None


# --- the lock -------------------------------------------------------------------------------------------

def lock_token(store: ConfigData) -> str | None:
    kept = store.singletons.get(_LOCK)
    return str(kept["token"]) if kept else None


def check_lock(store: ConfigData, given: Any, errmsg: str) -> None:
    """SDN.pm:278-298 lock_sdn_config: with a lock taken, only its token may write (the die has no
    newline: Perl names the line, :291)."""
    token = lock_token(store)
    if token is not None and (given is None or str(given) != token):
        raise PVEError(500, f"{errmsg}: invalid lock token provided! at {_SDN_PM} line 291.\n")


def check_write(store: ConfigData, template: str, method: str, params: Mapping[str, Any]) -> None:
    """A create, update or delete of an SDN object, under the lock (its own error prefix)."""
    kind, verb = _LOCKED_KINDS.get(template), _VERBS.get(method)
    if kind is not None and verb is not None:
        check_lock(store, params.get("lock-token"), f"{verb} sdn {kind} object failed")


def take_lock(cluster: Cluster, params: Mapping[str, Any]) -> str:
    """pve-network src/PVE/API2/Network/SDN.pm:144-156: refused while pending changes wait (unless
    ``allow-pending``); the token is a UUID v7 (SDN.pm:258-272), here from the store's counter."""
    errmsg = "could not acquire lock for SDN config"
    store = cluster.store
    check_lock(store, None, errmsg)
    if not truthy(params.get("allow-pending")) and has_pending_changes(store):
        raise PVEError(500, f"{errmsg}: configuration has pending changes at {_SDN_API_PM} line 149.\n")
    store.serial += 1
    token = f"0190a000-0000-7000-8000-{store.serial:012x}"
    store.singletons[_LOCK] = {"token": token}
    return token


def release_lock(cluster: Cluster, params: Mapping[str, Any]) -> None:
    """SDN.pm (API) :183-201: ``force`` releases any lock, else only the lock's token does."""
    if not truthy(params.get("force")):
        check_lock(cluster.store, params.get("lock-token"), "could not release lock")
    cluster.store.singletons.pop(_LOCK, None)


def _released(store: ConfigData, params: Mapping[str, Any]) -> None:
    """A commit or rollback given the lock's token releases it unless ``release-lock`` is 0 (:250, :304)."""
    if params.get("lock-token") and truthy(params.get("release-lock", 1)):
        store.singletons.pop(_LOCK, None)


# --- running and pending --------------------------------------------------------------------------------

def commit(cluster: Cluster, params: Mapping[str, Any]) -> None:
    """pve-network src/PVE/API2/Network/SDN.pm:298-308 (commit_config, SDN.pm:229-233): under the lock,
    the written configuration becomes the running one, before the reload task starts."""
    store = cluster.store
    check_lock(store, params.get("lock-token"), "could not commit SDN config")
    store.running = {p: v for p, v in store.running.items() if not _committed(p)}
    store.running.update({p: copy.deepcopy(v) for p, v in store.sections.items() if _committed(p)})
    _released(store, params)


def rollback(cluster: Cluster, params: Mapping[str, Any]) -> None:
    """pve-network src/PVE/API2/Network/SDN.pm:229-258: the running configuration written back over
    the pending one (IPAMs and DNS servers are not part of it)."""
    store = cluster.store
    check_lock(store, params.get("lock-token"), "could not rollback SDN configuration")
    for place in [p for p in store.sections if _committed(p)]:
        del store.sections[place]
    store.sections.update({p: copy.deepcopy(v) for p, v in store.running.items() if _committed(p)})
    _released(store, params)


def running(store: ConfigData, place: str) -> Section:
    """The running collection at ``place``: empty until the first apply."""
    return store.running.get(place, {})


def _encoded(value: Any) -> str | None:
    return None if value is None else str(value)


def pending(running_cfg: Mapping[str, Mapping[str, Any]], config: Mapping[str, Mapping[str, Any]]) -> Section:
    """SDN.pm:133-188 pending_config: every object of either configuration, its running values, ``state``
    new, changed or deleted and, under ``pending``, the written values that differ (``type`` and ``vnet``
    stay on top)."""
    out: Section = {}
    for ident in sorted(running_cfg):
        was, now = running_cfg[ident], config.get(ident) or {}
        entry = out.setdefault(ident, {})
        for key in sorted(was):
            entry[key] = was[key]
            if not now:
                entry["state"] = "deleted"
            elif now.get(key) is None:
                entry.setdefault("pending", {})[key] = "deleted"
                entry["state"] = "changed"
            elif _encoded(was[key]) != _encoded(now[key]):
                entry["state"] = "changed"
        if entry.get("state"):
            entry.setdefault("pending", {})
    for ident in sorted(config):
        was, now = running_cfg.get(ident) or {}, config[ident]
        entry = out.setdefault(ident, {})
        for key in sorted(now):
            value, before = _encoded(now[key]), _encoded(was.get(key))
            if key in ("type", "vnet"):
                entry[key] = now[key]
            elif before is None or value != before:
                entry.setdefault("pending", {})[key] = now[key]
            if not was:
                entry["state"] = "new"
            elif before is None and value is not None:
                entry["state"] = "changed"
        if entry.get("state"):
            entry.setdefault("pending", {})
    return out


def has_pending_changes(store: ConfigData) -> bool:
    """SDN.pm:235-256: any object of the committed files with something pending."""
    places = {p for p in store.sections if _committed(p)} | {p for p in store.running if _committed(p)}
    return any("pending" in entry for place in places
               for entry in pending(running(store, place), store.sections.get(place, {})).values())


def shown(store: ConfigData, template: str, place: str, params: Mapping[str, Any]) -> Section | None:
    """What a read of a committed collection shows when asked for ``pending`` or ``running`` (None: the
    written configuration, as for every other collection)."""
    if template not in COMMITTED_TEMPLATES:
        return None
    if truthy(params.get("pending")):
        return pending(running(store, place), store.sections.get(place, {}))
    if truthy(params.get("running")):
        return running(store, place)
    return None


def network_resources(cluster: Cluster) -> list[dict[str, Any]]:
    """pve-manager PVE/API2/Cluster.pm:686-725: per node the default ``localnetwork`` zone, then what each
    node broadcasts (PVE/Service/pvestatd.pm:780-800): the zones of the running configuration it is part
    of, ``available`` (pve-network src/PVE/Network/SDN/Zones.pm:250-259); an offline node broadcasts
    nothing."""
    out: list[dict[str, Any]] = [
        {"id": f"network/{name}/zone/localnetwork", "type": "network", "network-type": "zone",
         "network": "localnetwork", "node": name, "status": "ok"} for name in cluster.nodes]
    zones = running(cluster.store, "/cluster/sdn/zones")
    for name in sorted(n for n, node in cluster.nodes.items() if node.online):
        for zone in sorted(zones):
            members = _members(zones[zone])
            if members and name not in members:
                continue
            out.append({"id": f"network/{name}/zone/{zone}", "node": name, "type": "network",
                        "network-type": "zone", "network": zone, "status": "available",
                        "zone-type": zones[zone].get("type")})
    return out


def _members(zone: Mapping[str, Any]) -> list[str]:
    return split_list(str(zone.get("nodes") or ""))


def local_vnets(store: ConfigData, node: str) -> list[tuple[str, str, dict[str, Any]]]:
    """SDN.pm:311-351 get_local_vnets (its permission filter the caller's): the vnets of the running
    configuration whose zone spans ``node``, as the node lists them among its interfaces: (vnet, zone,
    entry)."""
    zones = running(store, "/cluster/sdn/zones")
    out = []
    for vnet, options in sorted(running(store, "/cluster/sdn/vnets").items()):
        name = str(options.get("zone") or "")
        zone = zones.get(name)
        if zone is None or (_members(zone) and node not in _members(zone)):
            continue
        entry = {"type": "vnet", "active": "1", "ipam": 1 if zone.get("ipam") else 0,
                 "vlanaware": 1 if options.get("vlanaware") else 0}
        if options.get("alias") is not None:
            entry["comments"] = options["alias"]
        out.append((vnet, name, entry))
    return out
