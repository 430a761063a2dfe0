"""The configuration PVE keeps in files (firewall, SDN, HA rules, jobs, mappings, notifications...), read
back into the mock's store by walking the same layout the store is built from.

The schema says which paths are section-config collections, singletons and positional lists
(:mod:`..backends.mock.store.layout`); a capture GETs each of them at every place the captured cluster
has (each node, guest, security group, vnet...), parents before children, and keeps what the reads
answer as the store keeps it. A new PVE version's collections are captured without code, like the mock
answers them without code.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..apidoc.operation import Operation
from ..backends.mock.handlers import all_routes
from ..backends.mock.store.layout import ALIASES, SHARED, Layout, place
from ..backends.mock.store.singletons import BOUND
from ..backends.mock.store.views import VIEWS
from .client import ReadOnlyClient, Refused, api_path

_PARAM = re.compile(r"\{([^}]+)\}")
_GUEST_PATH = re.compile(r"^/nodes/\{node\}/(qemu|lxc)/\{vmid\}")
_BOOKKEEPING = frozenset({"digest", "pos"})


def area_of(template: str) -> str:
    """The ``--include`` area a configuration path belongs to."""
    if "/firewall" in template:
        return "firewall"
    if template.startswith(("/cluster/sdn", "/nodes/{node}/sdn")):
        return "sdn"
    if template.startswith("/cluster/ha"):
        return "ha"
    if template.startswith(("/cluster/backup", "/cluster/replication", "/cluster/jobs")):
        return "jobs"
    return "config"


# the firewall's own formats in the store (pvegateway/backends/mock/store/firewall.py): an IP set's entries
# are a list sorted by address, aliases are keyed by their lowercased name and keep the IP version
_FIREWALL_SET = re.compile(r"/firewall/ipset/\{name\}$")
_ENTRY_OPTIONS = ("cidr", "nomatch", "comment")


def _ipset_entries(listed: list[Any]) -> list[dict[str, Any]]:
    entries = [{k: e[k] for k in _ENTRY_OPTIONS if k in e} for e in listed if isinstance(e, dict) and e.get("cidr")]
    return sorted(entries, key=lambda entry: str(entry["cidr"]))


def _aliases(listed: list[Any]) -> dict[str, dict[str, Any]]:
    return {str(e["name"]).lower(): {k: v for k, v in e.items() if k != "digest"}
            for e in listed if isinstance(e, dict) and e.get("name")}


@dataclass
class StoreCapture:
    """What was read: the store's three kinds of places, and the reads refused (path -> status)."""

    sections: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    singletons: dict[str, dict[str, Any]] = field(default_factory=dict)
    lists: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    running: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # SDN's applied configuration
    refused: dict[str, Refused] = field(default_factory=dict)


@dataclass(frozen=True)
class Known:
    """The captured cluster's objects that places are made of."""

    nodes: list[str]
    guests: list[tuple[str, str, int]]  # (kind, node, vmid)


class StoreWalk:
    def __init__(self, operations: list[Operation], areas: frozenset[str]) -> None:
        self.layout = Layout(operations, set(all_routes()))
        self.areas = areas

    def templates(self) -> list[tuple[str, str]]:
        """(kind, template) to read, parents first: ``section``, ``singleton`` or ``list``."""
        layout = self.layout
        found = [("section", t) for t in layout.sections] + [("list", t) for t in layout.positional]
        found += [("singleton", t) for t in layout.singletons if t not in BOUND]
        # singletons shown by views (a node's time, its subscription) are computed, not kept: nothing to
        # capture; collections read through views (the firewall's) are kept all the same
        wanted = [(kind, t) for kind, t in found
                  if t not in SHARED and t not in ALIASES and area_of(t) in self.areas
                  and "GET" in layout.by_path.get(t, {})
                  and not (kind == "singleton" and layout.by_path[t]["GET"].key in VIEWS)]
        return sorted(wanted, key=lambda pair: (pair[1].count("/"), pair[1]))

    def places(self, template: str, known: Known, got: StoreCapture) -> Iterator[dict[str, Any]]:
        """Every set of path values ``template`` has in the captured cluster."""
        guest = _GUEST_PATH.match(template)
        rest = template[guest.end():] if guest else template
        if guest:
            starts = [{"node": node, "vmid": vmid} for kind, node, vmid in known.guests if kind == guest.group(1)]
        elif rest.startswith("/nodes/{node}"):
            starts = [{"node": node} for node in known.nodes]
            rest = rest[len("/nodes/{node}"):]
        else:
            starts = [{}]
        prefix = template[:len(template) - len(rest)]
        for values in starts:
            yield from self._expand(prefix, rest, values, got)

    def _expand(self, prefix: str, rest: str, values: dict[str, Any], got: StoreCapture) -> Iterator[dict[str, Any]]:
        match = _PARAM.search(rest)
        if match is None:
            yield values
            return
        head = prefix + rest[:match.start()].rstrip("/")
        collection = ALIASES.get(head, head)
        if collection not in self.layout.sections:
            return  # a path under something the capture does not hold: nothing to read
        for ident in got.sections.get(place(collection, values), {}):
            yield from self._expand(prefix + rest[:match.end()], rest[match.end():],
                                    {**values, match.group(1): ident}, got)

    async def capture(self, client: ReadOnlyClient, known: Known) -> StoreCapture:
        got = StoreCapture()
        for kind, template in self.templates():  # parents first: a child's places come from them
            places = list(self.places(template, known, got))
            await asyncio.gather(*(self._read(client, kind, template, values, got) for values in places))
        return got

    async def _read(self, client: ReadOnlyClient, kind: str, template: str, values: Mapping[str, Any],
                    got: StoreCapture) -> None:
        path = api_path(template, values)
        where = place(template, values)
        try:
            data = await client.get(path)
        except Refused as refused:
            got.refused[path] = refused
            return
        if not data:
            return  # an empty collection or list, a singleton nobody set: the mock starts so too
        if kind == "singleton" and isinstance(data, dict):
            got.singletons[where] = self._settable(template, ("PUT", "POST"), data)
        elif kind == "list" and isinstance(data, list):
            ordered = sorted(data, key=lambda rule: int(rule.get("pos", 0)))
            got.lists[where] = [self._settable(template, ("POST",), rule) for rule in ordered]
        elif kind == "section" and isinstance(data, list) and _FIREWALL_SET.search(template):
            got.lists[where] = _ipset_entries(data)
        elif kind == "section" and isinstance(data, list) and template.endswith("/firewall/aliases"):
            got.sections[where] = _aliases(data)
        elif kind == "section" and isinstance(data, list):
            got.sections[where] = await self._items(client, template, values, data)
            lister = self.layout.by_path[template]["GET"]
            if "pending" in (lister.parameters.get("properties") or {}):
                await self._running(client, template, path, where, got)

    async def _running(self, client: ReadOnlyClient, template: str, path: str, where: str,
                       got: StoreCapture) -> None:
        """SDN: what the last apply committed, from ``pending=1`` (pve-network SDN.pm pending_config): an
        object without a ``state`` runs as written, a ``changed`` or ``deleted`` one runs with the values
        shown beside its ``pending`` ones, a ``new`` one does not run yet."""
        try:
            annotated = await client.get(path, {"pending": 1})
        except Refused:
            return
        param = self.layout.sections[template].param
        written = got.sections.get(where, {})
        running: dict[str, dict[str, Any]] = {}
        for entry in annotated if isinstance(annotated, list) else []:
            ident, state = str(entry.get(param)), entry.get("state")
            if state is None and ident in written:
                running[ident] = dict(written[ident])
            elif state in ("changed", "deleted"):
                shown = {k: v for k, v in entry.items() if k not in (param, "state", "pending")}
                running[ident] = self._settable(template, ("POST",), shown)
        if running:
            got.running[where] = running

    async def _items(self, client: ReadOnlyClient, template: str, values: Mapping[str, Any],
                     listed: list[Any]) -> dict[str, dict[str, Any]]:
        param = self.layout.sections[template].param
        item = f"{template}/{{{param}}}"
        reader = self.layout.by_path.get(item, {}).get("GET")
        reads_object = reader is not None and reader.returns.get("type", "object") == "object" \
            and item not in self.layout.sections and item not in self.layout.positional
        items: dict[str, dict[str, Any]] = {}
        for entry in listed:
            if not isinstance(entry, dict) or entry.get(param) is None:
                continue
            ident = str(entry[param])
            options = entry
            if reads_object:
                try:
                    options = await client.get(api_path(item, {**values, param: ident})) or entry
                except Refused:
                    options = entry
            writer = item if self.layout.sections[template].at_item else template
            items[ident] = self._settable(writer, ("POST",), {k: v for k, v in options.items() if k != param})
        return items

    def _settable(self, template: str, methods: tuple[str, ...], shown: Mapping[str, Any]) -> dict[str, Any]:
        """What a read shows that a write could have set, as the store keeps it: a read also shows what PVE
        works out (a replication job's ``guest`` from its id, a rule's ``pos``, a file's ``digest``)."""
        ops = self.layout.by_path.get(template, {})
        settable: set[str] = {"type"}
        for method in methods:
            writer = ops.get(method)
            if writer is not None:
                settable |= set(writer.parameters.get("properties") or {})
        settable -= _BOOKKEEPING | {"delete"}
        # an empty list is how a read shows an option nobody set (a subnet's ``dhcp-range``)
        return {k: v for k, v in shown.items() if k in settable and v != []}
