"""What each operation without a realistic handler does to the store, worked out once from the tree.

The tree says it all: a ``POST`` on ``T`` taking the ``x`` of a child ``T/{x}`` creates items of the
section-config collection ``T`` (so do ``POST``s on ``T/{x}`` itself where ``T`` only lists: metric
servers, Ceph monitors); a child ``T/{pos}`` makes ``T`` a positional list (firewall rules); a ``GET``
answering an object next to a ``PUT`` (or ``POST``) that takes the same keys is a singleton (options,
DNS, time). Everything else answers shaped data, or a task when it answers a UPID. Collections the
realistic handlers keep (guests, storages, users, pools, HA resources...) are the cluster's, not the
store's: their items are parents here, asked of the cluster (:mod:`.parents`).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from ....apidoc.operation import Operation
from ....schema.perl import truthy
from .data import guest_place
from .workers import NOT_TASKS, Worker, worker_of


class Kind(Enum):
    LIST = "section-config collection"
    CREATE = "section-config create"
    READ = "section-config read"
    UPDATE = "section-config update"
    REMOVE = "section-config remove"
    SHOW = "singleton read"
    SET = "singleton update"
    RULES = "positional list"
    INSERT = "positional insert"
    RULE = "positional read"
    EDIT = "positional update"
    DROP = "positional remove"
    TASK = "task"
    INDEX = "index"
    SHAPED = "shaped data"


SECTION_KINDS = frozenset({Kind.LIST, Kind.CREATE, Kind.READ, Kind.UPDATE, Kind.REMOVE})
SINGLETON_KINDS = frozenset({Kind.SHOW, Kind.SET})
POSITIONAL_KINDS = frozenset({Kind.RULES, Kind.INSERT, Kind.RULE, Kind.EDIT, Kind.DROP})

# what the realistic handlers read and the store writes (one state, two readers): the realms of the login
# form and of user ids, a node's interfaces (guests' bridges), datacenter.cfg (the cluster's options)
SHARED = frozenset({"/access/domains", "/nodes/{node}/network", "/cluster/options"})

# a POST taking the child's parameter, whose items are not one section each: route map entries are
# addressed by map and order (entries/{route-map-id}/entry/{order})
NOT_SECTIONS = frozenset({"/cluster/sdn/route-maps/entries"})

# children named after another collection's items: the node's view of a cluster-wide object
ALIASES: Mapping[str, str] = {
    "/nodes/{node}/replication": "/cluster/replication",
    "/nodes/{node}/sdn/vnets": "/cluster/sdn/vnets",
    "/nodes/{node}/sdn/zones": "/cluster/sdn/zones",
    "/nodes/{node}/sdn/fabrics": "/cluster/sdn/fabrics/fabric",
    "/cluster/sdn/fabrics/node": "/cluster/sdn/fabrics/fabric",
}

_PARAM = re.compile(r"\{([^}]+)\}")
_INDEXED = re.compile(r"\d+$")
_BOOKKEEPING = frozenset({"digest", "delete", "node", "vmid", "vnet"})


@dataclass(frozen=True, slots=True)
class Section:
    """A section-config collection: its template and the parameter naming its items."""

    template: str
    param: str
    at_item: bool = False  # items are created by a POST on their own path


@dataclass(frozen=True, slots=True)
class Parent:
    """An object the operation's path names: ``param``'s value must name an existing one.

    ``within`` is the store collection it is an item of; empty when the cluster holds it (``param``
    tells which kind: node, vmid, storage, userid, sid)."""

    param: str
    within: str = ""
    guest: str = ""  # qemu | lxc, for vmid


@dataclass(frozen=True, slots=True)
class Plan:
    kind: Kind
    where: str = ""  # the template of the collection, singleton or list acted on
    param: str = ""  # the id parameter of that collection
    parents: tuple[Parent, ...] = ()
    worker: Worker | None = None  # the task the operation's answer names


def _params(op: Operation) -> Mapping[str, Any]:
    props = op.parameters.get("properties")
    return props if isinstance(props, Mapping) else {}


def _returns_object(op: Operation) -> Mapping[str, Any] | None:
    """The properties of an object ``op`` answers (empty: any keys, like datacenter.cfg's); None: no object."""
    if op.returns.get("type", "object") != "object":
        return None
    props = op.returns.get("properties")
    return props if isinstance(props, Mapping) else {}


def lists_subdirs(op: Operation) -> bool:
    items = op.returns.get("items") if op.returns.get("type") == "array" else None
    return op.method == "GET" and isinstance(items, Mapping) and "subdir" in (items.get("properties") or {})


class Layout:
    def __init__(self, operations: Iterable[Operation], handled: Collection[tuple[str, str]]) -> None:
        ops = list(operations)
        self._handled = handled
        self.by_path: dict[str, dict[str, Operation]] = {}
        for op in ops:
            self.by_path.setdefault(op.path, {})[op.method] = op
        self._child: dict[str, str] = {}
        for path in self.by_path:
            head, _, last = path.rpartition("/")
            if last.startswith("{"):
                self._child[head] = last[1:-1]
        self.sections = self._find_sections()
        self.positional = frozenset(t for t, p in self._child.items() if p == "pos")
        self.singletons = self._find_singletons()
        self.plans: dict[str, Plan] = {op.key: self._plan(op) for op in ops if (op.method, op.path) not in handled}

    # --- what the tree holds --------------------------------------------------------------------------

    def _cluster_held(self, template: str) -> bool:
        ops = self.by_path.get(template, {})
        return template not in SHARED and any((m, template) in self._handled for m in ops)

    def _find_sections(self) -> dict[str, Section]:
        found: dict[str, Section] = {}
        for template, param in self._child.items():
            if param == "pos" or template in NOT_SECTIONS or self._cluster_held(template):
                continue
            item = f"{template}/{{{param}}}"
            post = self.by_path.get(template, {}).get("POST")
            if post is not None and param in _params(post):
                found[template] = Section(template, param)
            elif (post is None and "POST" in self.by_path.get(item, {}) and item not in self._child
                  and "GET" in self.by_path.get(template, {})):
                found[template] = Section(template, param, at_item=True)
        return found

    def _find_singletons(self) -> frozenset[str]:
        found = set()
        for template, ops in self.by_path.items():
            shown = ops.get("GET")
            keys = _returns_object(shown) if shown is not None else None
            if keys is None or template in self.sections or template in self.positional:
                continue
            if template.endswith("}") or self._item_of(template) is not None or self._cluster_held(template):
                continue
            for method in ("PUT", "POST"):
                setter = ops.get(method)
                if setter is None or setter.returns.get("type") not in (None, "null"):
                    continue
                taken = set(_params(setter)) - _BOOKKEEPING - set(setter.path_params)
                # what the setter takes, the getter shows (``acmedomain0`` as ``acmedomain[n]``)
                shown_too = {k for k in taken if k in keys or _INDEXED.sub("[n]", k) in keys}
                if taken and (not keys or shown_too == taken):
                    found.add(template)
        return frozenset(found)

    def _item_of(self, template: str) -> Section | None:
        head, _, last = template.rpartition("/")
        section = self.sections.get(head)
        return section if section is not None and last == f"{{{section.param}}}" else None

    # --- per operation --------------------------------------------------------------------------------

    def _plan(self, op: Operation) -> Plan:
        path, method = op.path, op.method
        worker = None if op.key in NOT_TASKS or not op.returns_task else worker_of(op)
        parents = self._parents(op)
        head, _, last = path.rpartition("/")
        item = self._item_of(path)
        if path in self.positional and method in ("GET", "POST"):
            return Plan(Kind.RULES if method == "GET" else Kind.INSERT, path, "pos", parents, worker)
        if head in self.positional and last == "{pos}":
            kind = {"GET": Kind.RULE, "PUT": Kind.EDIT, "DELETE": Kind.DROP}.get(method)
            if kind is not None:
                return Plan(kind, head, "pos", parents, worker)
        section = self.sections.get(path)
        if section is not None:
            if method == "POST" and not section.at_item:
                return Plan(Kind.CREATE, path, section.param, parents, worker)
            if method == "GET" and op.returns.get("type") == "array":
                return Plan(Kind.LIST, path, section.param, parents, worker)
        if item is not None:
            kind = {"GET": Kind.READ, "PUT": Kind.UPDATE, "DELETE": Kind.REMOVE}.get(method)
            if method == "POST" and item.at_item:
                kind = Kind.CREATE
            if kind is not None:
                return Plan(kind, item.template, item.param, parents[:-1], worker)
        if path in self.singletons:
            kind = Kind.SHOW if method == "GET" else Kind.SET if method in ("PUT", "POST") else None
            if kind is not None:
                return Plan(kind, path, "", parents, worker)
        if worker is not None:
            return Plan(Kind.TASK, "", "", parents, worker)
        return Plan(Kind.INDEX if lists_subdirs(op) else Kind.SHAPED, "", "", parents)

    def _parents(self, op: Operation) -> tuple[Parent, ...]:
        """The objects ``op``'s path names, outermost first (the last may be the operation's own item)."""
        segments = op.path.strip("/").split("/")
        found: list[Parent] = []
        for index, segment in enumerate(segments):
            name = _PARAM.fullmatch(segment)
            if name is None:
                continue
            param = name.group(1)
            head = "/" + "/".join(segments[:index])
            parent = self._parent(op, head, param, segments)
            if parent is not None:
                found.append(parent)
        return tuple(found)

    def _parent(self, op: Operation, head: str, param: str, segments: list[str]) -> Parent | None:
        if head == "/nodes":
            # pveproxy looks the node up where the call is proxied to it (PVE's 'hostname lookup' error)
            return Parent("node") if op.proxyto == "node" else None
        if head in ("/nodes/{node}/qemu", "/nodes/{node}/lxc"):
            # a guest's firewall is kept by VMID: pve-firewall's load_vmfw_conf reads firewall/<vmid>.fw
            # whether or not the guest exists (src/PVE/Firewall.pm:3678-3695); everything else loads the
            # guest's config first
            if len(segments) > 4 and segments[4] == "firewall":
                return None
            return Parent("vmid", guest=head.rsplit("/", 1)[1])
        if head == "/nodes/{node}/storage":
            return Parent("storage")
        if head == "/access/users":
            return Parent("userid")
        if head == "/cluster/ha/resources":
            return Parent("sid")
        if head in self.sections:
            return Parent(param, within=head)
        if head in ALIASES and ALIASES[head] in self.sections:
            return Parent(param, within=ALIASES[head])
        return None

    def plan(self, op: Operation) -> Plan | None:
        return self.plans.get(op.key)


def place(template: str, values: Mapping[str, Any]) -> str:
    """The place of ``template`` with ``values`` (see :mod:`.data`): a guest's places by VMID."""
    concrete = _PARAM.sub(lambda m: str(values.get(m.group(1), "")), template)
    if concrete.startswith("/nodes/"):
        parts = concrete.split("/", 5)
        if len(parts) > 4 and parts[3] in ("qemu", "lxc"):
            return guest_place(parts[4]) + "".join("/" + p for p in parts[5:])
    return concrete


def id_default(op: Operation, param: str) -> str | None:
    """The id a create takes when the caller gives none: the parameter's ``default`` (ACME accounts)."""
    schema = _params(op).get(param)
    if isinstance(schema, Mapping) and schema.get("default") is not None and truthy(schema.get("optional")):
        return str(schema["default"])
    return None
