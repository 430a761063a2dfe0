"""One capture: the areas read in order, what each found or could not read, and the seed they make."""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..apidoc.operation import Operation
from ..backends.mock.snapshot import FORMAT
from . import objects
from .client import ReadOnlyClient, Refused
from .scrub import Redactor, is_secret_name, items_without_secrets, without_secrets
from .store import Known, StoreWalk

# every area a capture can read; nodes are always read (every other area hangs off them)
AREAS = ("nodes", "storage", "guests", "access", "pools", "ha", "options", "firewall", "sdn", "jobs", "config")
STORE_AREAS = frozenset({"firewall", "sdn", "ha", "jobs", "config"})

Say = Callable[[str], None]


@dataclass
class Capture:
    seed: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # areas (or parts) the credentials could not read


def parse_areas(text: str | None) -> frozenset[str]:
    if not text:
        return frozenset(AREAS)
    wanted = {a.strip() for a in text.split(",") if a.strip()}
    unknown = sorted(wanted - set(AREAS))
    if unknown:
        raise ValueError(f"--include: unknown area(s) {', '.join(unknown)}; known: {', '.join(AREAS)}")
    return frozenset(wanted | {"nodes"})


def _password(given: str | None) -> str:
    return given or secrets.token_urlsafe(18)


async def capture(client: ReadOnlyClient, operations: Iterable[Operation], areas: frozenset[str], *,
                  say: Say, password: str | None = None, redact: Redactor | None = None) -> Capture:
    """Read the cluster behind ``client``: the seed, and what could not be read (also said as it happens)."""
    result = Capture()
    seed: dict[str, Any] = {"format": FORMAT, "clock": None}
    sections: dict[str, dict[str, dict[str, Any]]] = {}

    async def area(name: str, read: Callable[[], Awaitable[dict[str, Any]]],
                   counts: Callable[[dict[str, Any]], str]) -> dict[str, Any]:
        if name not in areas:
            return {}
        try:
            found = await read()
        except Refused as refused:
            why = "not readable with these credentials" if refused.forbidden else "read failed"
            result.problems.append(f"{name}: {why} ({refused})")
            say(f"capture: {name}: {why} - {refused}")
            return {}
        sections.update(found.pop("sections", {}))
        seed.update(found)
        say(f"capture: {name}: {counts(found)}")
        return found

    found_nodes = await area("nodes", lambda: objects.capture_nodes(client),
                             lambda f: f"{len(f['nodes'])} node(s)")
    nodes = [n["name"] for n in found_nodes.get("nodes", []) if n.get("online", True)]
    await area("storage", lambda: objects.capture_storage(client, nodes),
               lambda f: f"{len(f['storages'])} storage(s), "
                         f"{sum(len(s['volumes']) for s in f['storages'])} volume(s)")
    await area("guests", lambda: objects.capture_guests(client),
               lambda f: f"{len(f['guests'])} guest(s), {sum(len(g['snapshots']) for g in f['guests'])} snapshot(s)")
    await area("access", lambda: objects.capture_access(client),
               lambda f: f"{len(f['users'])} user(s), {sum(len(u['tokens']) for u in f['users'])} token id(s), "
                         f"{len(f['groups'])} group(s), {len(f['roles'])} custom role(s), {len(f['acl'])} ACL entries")
    await area("pools", lambda: objects.capture_pools(client), lambda f: f"{len(f['pools'])} pool(s)")
    await area("ha", lambda: objects.capture_ha(client), lambda f: f"{len(f['ha'])} HA resource(s)")
    await area("options", lambda: objects.capture_options(client), lambda f: f"{len(f['options'])} option(s)")

    store: dict[str, Any] = {"sections": {}, "singletons": {}, "lists": {}, "serial": 0, "running": {}}
    if areas & STORE_AREAS:
        guests = [(g["kind"], g["node"], g["vmid"]) for g in seed.get("guests", [])]
        walk = StoreWalk(list(operations), frozenset(areas & STORE_AREAS))
        got = await walk.capture(client, Known(nodes, guests))
        sections.update(got.sections)
        store["singletons"] = {where: without_secrets(v) for where, v in got.singletons.items()}
        store["lists"] = {where: without_secrets(v) for where, v in got.lists.items()}
        store["running"] = {where: items_without_secrets(where, v) for where, v in got.running.items()}
        forbidden = [r for r in got.refused.values() if r.forbidden]
        if forbidden:
            result.problems.append(f"configuration: {len(forbidden)} path(s) not readable with these credentials, "
                                   f"e.g. {forbidden[0]}")
            say(f"capture: configuration: {len(forbidden)} path(s) not readable with these credentials "
                f"(first: {forbidden[0].path})")
        say(f"capture: configuration: {len(got.sections)} collection(s), {len(got.singletons)} singleton(s), "
            f"{len(got.lists)} rule list(s); {len(got.refused) - len(forbidden)} path(s) answered an error")
    store["sections"] = {where: items_without_secrets(where, items) for where, items in sections.items()}
    seed["store"] = store
    _finish(seed, _password(password))
    result.seed = redact.apply(seed) if redact else seed
    say(f"capture: done, {client.requests} GET request(s)")
    return result


def _finish(seed: dict[str, Any], password: str) -> None:
    """Secrets of the mock's own (the cluster's never travel), guests' configs without credentials,
    pool membership on guests, start times against the real clock."""
    now = int(time.time())
    members = {vmid: p["poolid"] for p in seed.get("pools", []) for vmid in p["vmids"]}
    for guest in seed.get("guests", []):
        guest["config"] = without_secrets(guest["config"])
        if "pending" in guest:
            guest["pending"] = without_secrets(guest["pending"])
        if "pending_delete" in guest:
            guest["pending_delete"] = [k for k in guest["pending_delete"] if not is_secret_name(k)]
        for snapshot in guest.get("snapshots", []):
            snapshot["config"] = without_secrets(snapshot["config"])
        if "started" in guest:
            guest["started"] = now - int(guest["started"])
        if guest["vmid"] in members:
            guest["pool"] = members[guest["vmid"]]
    for user in seed.get("users", []):
        user["password"] = password
    seed["root_password"] = password

