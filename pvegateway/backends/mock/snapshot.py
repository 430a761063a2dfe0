"""The cluster as plain JSON data and back: seeds, ``--state`` files and the control API's dump.

One format serves all three: a dump is a seed (``POST /_gateway/seed``, ``--seed FILE``) that builds the
same cluster again, and ``--state FILE`` is a dump written on shutdown and loaded on start. A seed may
leave any section out, and an item any field that has a default. Top-level keys (any other is refused,
so that a misspelt section is not silently an empty one):

``format``
    ``1``; a dump writes it, a seed may leave it out; another number is refused.
``name``
    The cluster's name (default ``pvegw``).
``clock``
    ``null``: real time. An integer: a deterministic clock at that epoch second, one second later at every
    read. A dump gives the clock's current value, so a cluster built from it goes on where it was.
``root_password``
    Seed only: root@pam's password when the seed's root@pam has none (``--root-password`` wins over it).
``nodes``, ``groups``, ``acl``, ``pools``
    Lists of :mod:`.state`'s ``Node``, ``Group``, ``AclEntry`` and ``Pool`` fields.
``storages``
    ``Storage`` fields; ``volumes`` is one list of ``Volume`` fields (node, notes, protected flag...).
``guests``
    ``Guest`` fields (config, pending changes, lock, pool...); ``snapshots`` is a list, oldest first.
``users``
    ``User`` fields (the password in plain text: a mock has nothing to protect); ``tokens`` is a list of
    ``Token`` fields, secrets included, so that a token keeps working across a reset or a restart.
``roles``
    PVE's built-in roles are always there; listed roles are added (or replace a built-in one).
``ha``, ``options``
    HA resources by sid, and the datacenter options, as the handlers keep them.
``tasks``
    The task history (the last ``TASK_HISTORY`` per node). A task still running when dumped comes back as
    it was (running, with the polls or delay it had left) but without its effect, which is code, not data:
    when it stops, what it would have changed stays as it is.
``faults``
    The faults injected through the control API (:mod:`.faults`), with what is left of their ``times``.
``counters``
    ``pid`` (the last task's: the next one gets one more) and ``mac`` (the next generated MAC address's
    last three bytes, as a number).

Not cluster state, so neither dumped nor restored by a reset: the secret that signs tickets (the backend's,
from ``--state-dir``: tickets stay valid across resets and restarts), the task progression (a server
setting), what ``POST /_gateway/clock`` added to a real clock, and the login throttle's counts.

A seed is kept for later resets as a :class:`Seed`, JSON text that nothing can change: every cluster is
built from a fresh copy of it, so no change to a cluster ever reaches the seed.
"""

from __future__ import annotations

import copy
import json
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from . import faults, seed_schema
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
from .store.data import ConfigData

FORMAT = 1
# the top-level keys a seed may have: a new section of the dump is added here too
SECTIONS = frozenset({"format", "name", "clock", "root_password", "nodes", "storages", "guests", "users",
                      "groups", "roles", "acl", "pools", "ha", "options", "tasks", "counters", "store",
                      "faults"})


@dataclass(frozen=True, slots=True)
class Seed:
    """A seed kept for resets: its JSON text (immutable) and the two values read outside the cluster.
    Made by :meth:`of`, which checks them."""

    text: str
    clock: int | None
    root_password: str | None

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> Seed:
        """Check ``data``'s top level and keep a copy of it: later changes to ``data`` do not reach it."""
        if not isinstance(data, Mapping):
            raise ValueError("a seed must be a JSON object")
        unknown = sorted(set(data) - SECTIONS)
        if unknown:
            raise ValueError(f"unknown seed section(s) {unknown}; known: {sorted(SECTIONS)}")
        if data.get("format", FORMAT) != FORMAT:
            raise ValueError(f"seed format {data['format']!r}: this version reads format {FORMAT}")
        clock = data.get("clock")
        if clock is not None and (isinstance(clock, bool) or not isinstance(clock, int)):
            raise ValueError(f"seed clock {clock!r}: an integer (epoch seconds) or null")
        seed_schema.check(data)
        password = data.get("root_password")
        return cls(json.dumps(data), clock, None if password is None else str(password))

    def data(self) -> dict[str, Any]:
        """A fresh deep copy: whatever the caller changes in it stays out of the seed."""
        data: dict[str, Any] = json.loads(self.text)
        return data


def dump(cluster: Cluster, clock: int | None = None) -> dict[str, Any]:
    """The whole cluster as a seed; ``clock`` is a deterministic clock's current value (None: real time)."""
    return {
        "format": FORMAT,
        "name": cluster.name,
        "clock": clock,
        "nodes": [asdict(n) for n in cluster.nodes.values()],
        "storages": [_storage_out(s) for s in cluster.storages.values()],
        "guests": [_guest_out(g) for g in cluster.guests.values()],
        "users": [_user_out(u) for u in cluster.users.values()],
        "groups": [asdict(g) for g in cluster.groups.values()],
        "roles": [{"roleid": r.roleid, "privs": sorted(r.privs), "special": r.special}
                  for r in cluster.roles.values()],
        "acl": [asdict(e) for e in cluster.acl.values()],
        "pools": [asdict(p) for p in cluster.pools.values()],
        "ha": copy.deepcopy(cluster.ha),  # a copy: a caller changing the dump must not change the cluster
        "options": copy.deepcopy(cluster.options),
        "store": cluster.store.dump(),  # the configuration store (store/data.py)
        "faults": faults.dump(cluster.faults),
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


def _without(item: Mapping[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k != key}


def load(seed: Seed) -> Cluster:
    """A new cluster from ``seed`` (which may leave sections out: built-in roles are always there).

    Built from a fresh copy of the seed, so the cluster shares nothing with it and its changes never
    reach the seed: a reset builds the same cluster every time. A malformed item is a ValueError that
    says what is wrong, not a crash.
    """
    try:
        return _cluster(seed.data())
    except KeyError as err:
        raise ValueError(f"seed: an item lacks its {err}") from None
    except (TypeError, ValueError, AttributeError) as err:
        raise ValueError(f"seed: {err}") from None


def _cluster(data: dict[str, Any]) -> Cluster:
    cluster = Cluster(name=str(data.get("name", "pvegw")))
    for n in data.get("nodes", []):
        node = Node(**n)
        cluster.nodes[node.name] = node
    for s in data.get("storages", []):
        storage = Storage(**_without(s, "volumes"))
        storage.volumes = {}
        for v in s.get("volumes", []):
            volume = Volume(**v)
            storage.bucket(volume.node)[volume.volid] = volume
        cluster.storages[storage.storage] = storage
    for g in data.get("guests", []):
        guest = Guest(**_without(g, "snapshots"))
        guest.snapshots = OrderedDict((s["name"], Snapshot(**s)) for s in g.get("snapshots", []))
        cluster.guests[guest.vmid] = guest
    for roleid, privs in builtin_roles().items():
        cluster.roles[roleid] = Role(roleid, privs, special=True)
    for r in data.get("roles", []):
        cluster.roles[r["roleid"]] = Role(r["roleid"], frozenset(r["privs"]), bool(r.get("special")))
    for u in data.get("users", []):
        user = User(**_without(u, "tokens"))
        user.tokens = {t["tokenid"]: Token(**t) for t in u.get("tokens", [])}
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
    cluster.store = ConfigData.load(data.get("store"))
    cluster.faults = faults.load(data.get("faults", []))
    for t in data.get("tasks", []):
        cluster.add_task(Task(**t))
    counters = data.get("counters", {})
    cluster.next_pid = int(counters.get("pid", cluster.next_pid))
    cluster.next_mac = int(counters.get("mac", cluster.next_mac))
    return cluster
