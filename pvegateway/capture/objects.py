"""The objects the mock's realistic handlers keep, read back from a cluster's API as seed entries.

Each ``capture_*`` reads one area with GETs and returns the seed's sections for it (:mod:`..backends.
mock.snapshot` documents them). What PVE's API never shows (passwords, token secrets) is not there to
read; what the mock needs in their place is made here (:func:`new_secret`) and reported to the caller.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, TypeVar

from .client import ReadOnlyClient, Refused, api_path

T = TypeVar("T")
Found = dict[str, Any]
# what one guest's read costs: its config, pending changes, snapshot list (and a read per snapshot)
_GUEST_KINDS = ("qemu", "lxc")
# what a config read shows that is not configuration: the file's digest, the lock and snapshot parent
# (state of their own in the mock's model)
_NOT_CONFIG = frozenset({"digest", "lock", "parent"})


def new_secret() -> str:
    """A token secret of PVE's form (a UUID), made here: the cluster's own never leaves it."""
    return str(uuid.UUID(bytes=secrets.token_bytes(16), version=4))


async def gather(items: Iterable[T], read: Callable[[T], Awaitable[Any]]) -> list[Any]:
    """``read`` for every item (the client bounds how many run at once), answers in item order."""
    return list(await asyncio.gather(*(read(item) for item in items)))


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _flag(value: Any) -> bool:
    return str(value) not in ("0", "", "None", "False")


def _ids(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    return [v.strip() for v in str(value or "").replace(";", ",").split(",") if v.strip()]


# --- nodes ------------------------------------------------------------------------------------------------

async def capture_nodes(client: ReadOnlyClient) -> Found:
    """Nodes from ``/cluster/status`` (names, addresses, online) and ``/nodes`` (CPUs, memory), their
    versions, bridges and interfaces; the cluster's name."""
    status = await client.get("/cluster/status")
    nodes_list = {str(n.get("node")): n for n in await client.get("/nodes") or []}
    name = next((str(e["name"]) for e in status or [] if e.get("type") == "cluster" and e.get("name")), None)
    nodes: list[dict[str, Any]] = []
    interfaces: dict[str, dict[str, dict[str, Any]]] = {}
    members = [e for e in status or [] if e.get("type") == "node"] or [
        {"name": n, "ip": "", "online": 1} for n in nodes_list]
    for entry in members:
        node = str(entry.get("name"))
        figures = nodes_list.get(node, {})
        online = _flag(entry.get("online", 1))
        item: dict[str, Any] = {"name": node, "ip": str(entry.get("ip") or ""), "online": online}
        if figures.get("maxcpu"):
            item["cpus"] = _int(figures["maxcpu"], 8)
        if figures.get("maxmem"):
            item["memory"] = _int(figures["maxmem"])
        if online:
            try:  # a cluster mid-upgrade runs several versions
                running = await client.get(f"/nodes/{node}/version") or {}
            except Refused:
                running = {}
            for key in ("version", "repoid"):
                if running.get(key):
                    item[key] = str(running[key])
            try:
                found = await client.get(f"/nodes/{node}/network")
            except Refused:
                found = None
            if isinstance(found, list):
                interfaces[node] = {str(i["iface"]): {k: v for k, v in i.items() if k != "iface"}
                                    for i in found if i.get("iface")}
                item["bridges"] = sorted(i for i, o in interfaces[node].items()
                                         if o.get("type") in ("bridge", "OVSBridge"))
        nodes.append(item)
    out: Found = {"nodes": nodes}
    if name:
        out["name"] = name
    if interfaces:
        out["sections"] = {f"/nodes/{node}/network": found for node, found in interfaces.items()}
    return out


# --- storage ----------------------------------------------------------------------------------------------

async def capture_storage(client: ReadOnlyClient, nodes: list[str]) -> Found:
    """storage.cfg, each storage's size and its volumes (a shared storage's once, through one node)."""
    configs = await client.get("/storage") or []
    storages: list[dict[str, Any]] = []
    for config in configs:
        ident = str(config["storage"])
        options = {k: v for k, v in config.items() if k not in ("storage", "type", "content", "nodes", "shared",
                                                                  "digest")}
        item: dict[str, Any] = {"storage": ident, "type": str(config.get("type")),
                                "content": _ids(config.get("content")),
                                "config": options, "shared": _flag(config.get("shared", 0)), "volumes": []}
        if config.get("nodes"):
            item["nodes"] = _ids(config["nodes"])
        storages.append(item)

    # each node's view first: which storages it has, which are shared (network storages are, without
    # saying so in storage.cfg) and their size
    async def on_node(node: str) -> list[Any]:
        try:
            return list(await client.get(f"/nodes/{node}/storage") or [])
        except Refused:
            return []

    views = dict(zip(nodes, await gather(nodes, on_node), strict=True))
    for storage in storages:
        for node in nodes:
            state = next((s for s in views[node] if s.get("storage") == storage["storage"]), None)
            if state is None:
                continue
            if _flag(state.get("shared", 0)):
                storage["shared"] = True
            if state.get("total"):
                storage["total"] = max(storage.get("total", 0), _int(state["total"]))

    async def volumes(pair: tuple[dict[str, Any], str]) -> tuple[dict[str, Any], str, Any]:
        storage, node = pair
        try:
            return storage, node, await client.get(
                f"/nodes/{node}/storage/{api_path('{s}', {'s': storage['storage']})}/content")
        except Refused:
            return storage, node, None

    pairs = []
    for storage in storages:
        where = [n for n in nodes if any(s.get("storage") == storage["storage"] and _flag(s.get("active", 1))
                                         for s in views[n])]
        pairs += [(storage, n) for n in (where[:1] if storage["shared"] else where)]
    for storage, node, content in await gather(pairs, volumes):
        for volume in content or []:
            entry: dict[str, Any] = {"volid": str(volume["volid"]), "storage": storage["storage"], "node": node,
                                     "content": str(volume.get("content", "images")),
                                     "size": _int(volume.get("size")), "format": str(volume.get("format", "raw")),
                                     "ctime": _int(volume.get("ctime"))}
            if volume.get("vmid") is not None:
                entry["vmid"] = _int(volume["vmid"])
            if volume.get("notes"):
                entry["notes"] = str(volume["notes"])
            if _flag(volume.get("protected", 0)):
                entry["protected"] = True
            storage["volumes"].append(entry)
    return {"storages": storages}


# --- guests -----------------------------------------------------------------------------------------------

async def capture_guests(client: ReadOnlyClient) -> Found:
    """Every guest: config, pending changes, snapshot tree (each snapshot's config), status, lock."""
    rows = [r for r in await client.get("/cluster/resources", {"type": "vm"}) or []
            if r.get("type") in _GUEST_KINDS and r.get("vmid") is not None]
    return {"guests": [g for g in await gather(rows, lambda row: _guest(client, row)) if g is not None]}


async def _guest(client: ReadOnlyClient, row: Mapping[str, Any]) -> dict[str, Any] | None:
    kind, node, vmid = str(row["type"]), str(row["node"]), _int(row["vmid"])
    base = f"/nodes/{api_path('{n}', {'n': node})}/{kind}/{vmid}"
    try:  # current=1: the config as it runs, without the pending changes read next
        config = await client.get(base + "/config", {"current": 1})
    except Refused:
        return None
    config = dict(config or {})
    guest: dict[str, Any] = {"vmid": vmid, "kind": kind, "node": node,
                             "status": str(row.get("status") or "stopped"),
                             "config": _config_text(config)}
    if config.get("lock"):
        guest["lock"] = str(config["lock"])
    if row.get("pool"):
        guest["pool"] = str(row["pool"])
    if guest["status"] == "running" and row.get("uptime"):
        guest["started"] = max(0, _int(row.get("uptime")))  # made an epoch below, against the clock
    try:
        pending = await client.get(base + "/pending") or []
    except Refused:
        pending = []
    changes = _config_text({str(p["key"]): p["pending"] for p in pending if "pending" in p})
    deletes = [str(p["key"]) for p in pending if _flag(p.get("delete", 0))]
    if changes:
        guest["pending"] = changes
    if deletes:
        guest["pending_delete"] = deletes
    guest["snapshots"], guest["parent"] = await _snapshots(client, base)
    return guest


async def _snapshots(client: ReadOnlyClient, base: str) -> tuple[list[dict[str, Any]], str | None]:
    try:
        listed = await client.get(base + "/snapshot") or []
    except Refused:
        return [], None
    current: dict[str, Any] = next((s for s in listed if s.get("name") == "current"), {})
    taken = sorted((s for s in listed if s.get("name") != "current"), key=lambda s: _int(s.get("snaptime")))

    async def config(snap: Mapping[str, Any]) -> dict[str, Any]:
        try:
            found = await client.get(f"{base}/snapshot/{api_path('{s}', {'s': snap['name']})}/config") or {}
        except Refused:
            found = {}
        keep = _config_text({k: v for k, v in found.items() if k not in ("snaptime", "description", "vmstate",
                                                                          "snapstate")})
        return {"name": str(snap["name"]), "config": keep, "parent": snap.get("parent"),
                "snaptime": _int(snap.get("snaptime")), "description": str(snap.get("description") or ""),
                "vmstate": _flag(snap.get("vmstate", 0))}

    parent = current.get("parent")
    return await gather(taken, config), None if parent is None else str(parent)


def _config_text(config: Mapping[str, Any]) -> dict[str, Any]:
    """A config as its file holds it: every value text (a read answers numbers where the schema says
    integer), without what is not configuration."""
    return {str(k): v if isinstance(v, str) else str(v) for k, v in config.items() if k not in _NOT_CONFIG}


# --- access -----------------------------------------------------------------------------------------------

async def capture_access(client: ReadOnlyClient) -> Found:
    """Users (with their token ids: new secrets), groups, custom roles, the ACL, the realms."""
    users = []
    for user in await client.get("/access/users", {"full": 1}) or []:
        item: dict[str, Any] = {"userid": str(user["userid"]), "enable": _flag(user.get("enable", 1)),
                                "expire": _int(user.get("expire"))}
        for key in ("firstname", "lastname", "email", "comment"):
            if user.get(key):
                item[key] = str(user[key])
        item["groups"] = _ids(user.get("groups"))
        item["tokens"] = [{"tokenid": str(t["tokenid"]), "secret": new_secret(),
                           "privsep": _flag(t.get("privsep", 1)), "expire": _int(t.get("expire")),
                           "comment": str(t.get("comment") or "")} for t in user.get("tokens") or []]
        users.append(item)
    groups = [{"groupid": str(g["groupid"]), "comment": str(g.get("comment") or "")}
              for g in await client.get("/access/groups") or []]
    roles = [{"roleid": str(r["roleid"]), "privs": sorted(_ids(r.get("privs")))}
             for r in await client.get("/access/roles") or [] if not _flag(r.get("special", 0))]
    acl = [{"path": str(e["path"]), "ugid": str(e["ugid"]), "kind": str(e["type"]), "roleid": str(e["roleid"]),
            "propagate": _flag(e.get("propagate", 1))} for e in await client.get("/access/acl") or []]
    realms: dict[str, dict[str, Any]] = {}
    for realm in await client.get("/access/domains") or []:
        ident = str(realm["realm"])
        try:
            found = await client.get(f"/access/domains/{api_path('{r}', {'r': ident})}") or realm
        except Refused:
            found = realm
        realms[ident] = {k: v for k, v in found.items() if k not in ("realm", "digest")}
    return {"users": users, "groups": groups, "roles": roles, "acl": acl,
            "sections": {"/access/domains": realms}}


# --- pools, HA, datacenter options --------------------------------------------------------------------------

async def capture_pools(client: ReadOnlyClient) -> Found:
    pools = []
    for pool in await client.get("/pools") or []:
        ident = str(pool["poolid"])
        found = await client.get("/pools", {"poolid": ident})
        members = (found[0] if isinstance(found, list) and found else found or {}).get("members") or []
        pools.append({"poolid": ident, "comment": str(pool.get("comment") or ""),
                      "vmids": list(dict.fromkeys(_int(m["vmid"]) for m in members if m.get("type") in _GUEST_KINDS)),
                      # a storage member is listed once per node that has it
                      "storages": list(dict.fromkeys(str(m["storage"]) for m in members
                                                     if m.get("type") == "storage"))})
    return {"pools": pools}


async def capture_ha(client: ReadOnlyClient) -> Found:
    resources: dict[str, dict[str, Any]] = {}
    for resource in await client.get("/cluster/ha/resources") or []:
        sid = str(resource["sid"])
        try:
            found = await client.get(f"/cluster/ha/resources/{api_path('{s}', {'s': sid})}") or resource
        except Refused:
            found = resource
        options = {k: v for k, v in found.items() if k not in ("sid", "digest", "type")}
        if options.get("state") == "started":  # pve-ha-manager src/PVE/HA/Config.pm: the default, shown on reads
            del options["state"]
        resources[sid] = options
    return {"ha": resources}


async def capture_options(client: ReadOnlyClient) -> Found:
    options = await client.get("/cluster/options") or {}
    return {"options": {k: v for k, v in options.items() if k != "digest"}}
