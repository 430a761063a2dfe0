"""The cluster as plain JSON data and back: seeds, ``--state`` files and the control API's dump."""

from __future__ import annotations

import copy
from collections import OrderedDict
from dataclasses import asdict
from typing import Any

from .roles import builtin_roles
from .state import (
    AclEntry,
    Cluster,
    Group,
    Guest,
    Node,
    Pool,
    Role,
    Snapshot,
    Storage,
    Task,
    Token,
    User,
    Volume,
)

FORMAT = 1


def dump(cluster: Cluster) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "name": cluster.name,
        "nodes": [asdict(n) for n in cluster.nodes.values()],
        "storages": [_storage_out(s) for s in cluster.storages.values()],
        "guests": [_guest_out(g) for g in cluster.guests.values()],
        "users": [_user_out(u) for u in cluster.users.values()],
        "groups": [asdict(g) for g in cluster.groups.values()],
        "roles": [{"roleid": r.roleid, "privs": sorted(r.privs), "special": r.special}
                  for r in cluster.roles.values()],
        "acl": [asdict(e) for e in cluster.acl.values()],
        "pools": [asdict(p) for p in cluster.pools.values()],
        "ha": cluster.ha,
        "options": cluster.options,
        "tasks": [_task_out(t) for log in cluster.tasks.values() for t in log.values()],
        "counters": {"pid": cluster.next_pid, "mac": cluster.next_mac},
    }


def _storage_out(storage: Storage) -> dict[str, Any]:
    data = asdict(storage)
    data["volumes"] = [asdict(v) for bucket in storage.volumes.values() for v in bucket.values()]
    return data


def _guest_out(guest: Guest) -> dict[str, Any]:
    data = asdict(guest)
    data["snapshots"] = [asdict(s) for s in guest.snapshots.values()]
    return data


def _user_out(user: User) -> dict[str, Any]:
    data = asdict(user)
    data["tokens"] = [asdict(t) for t in user.tokens.values()]
    return data


def _task_out(task: Task) -> dict[str, Any]:
    data = asdict(task)
    data.pop("finish", None)
    data.pop("cancel", None)
    return data


def load(seed: dict[str, Any]) -> Cluster:
    """A cluster from a dump or a seed (which may leave sections out: built-in roles are always there).

    The seed is left as it was: a reset loads it again."""
    data = copy.deepcopy(seed)
    cluster = Cluster(name=str(data.get("name", "pvegw")))
    for n in data.get("nodes", []):
        node = Node(**n)
        cluster.nodes[node.name] = node
    for s in data.get("storages", []):
        volumes = s.pop("volumes", [])
        storage = Storage(**{k: v for k, v in s.items()})
        storage.volumes = {}
        for v in volumes:
            volume = Volume(**v)
            storage.bucket(volume.node)[volume.volid] = volume
        cluster.storages[storage.storage] = storage
    for g in data.get("guests", []):
        snapshots = g.pop("snapshots", [])
        guest = Guest(**g)
        guest.snapshots = OrderedDict((s["name"], Snapshot(**s)) for s in snapshots)
        cluster.guests[guest.vmid] = guest
    for roleid, privs in builtin_roles().items():
        cluster.roles[roleid] = Role(roleid, privs, special=True)
    for r in data.get("roles", []):
        cluster.roles[r["roleid"]] = Role(r["roleid"], frozenset(r["privs"]), bool(r.get("special")))
    for u in data.get("users", []):
        tokens = u.pop("tokens", [])
        user = User(**u)
        user.tokens = {t["tokenid"]: Token(**t) for t in tokens}
        cluster.users[user.userid] = user
    cluster.users.setdefault("root@pam", User("root@pam", comment="root"))
    for g in data.get("groups", []):
        cluster.groups[g["groupid"]] = Group(**g)
    for a in data.get("acl", []):
        entry = AclEntry(**a)
        cluster.acl[(entry.path, entry.ugid, entry.roleid)] = entry
    for p in data.get("pools", []):
        cluster.pools[p["poolid"]] = Pool(**p)
    cluster.ha = dict(data.get("ha", {}))
    cluster.options = dict(data.get("options", {}))
    for t in data.get("tasks", []):
        cluster.add_task(Task(**t))
    counters = data.get("counters", {})
    cluster.next_pid = int(counters.get("pid", cluster.next_pid))
    cluster.next_mac = int(counters.get("mac", cluster.next_mac))
    return cluster
