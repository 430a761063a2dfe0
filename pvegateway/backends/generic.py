"""A schema-driven in-memory backend good enough to exercise every operation.

Collections are found in the tree itself: a POST on ``T`` whose parameters include the ``x`` of a child
``T/{x}`` creates the item ``T/<x>``; GET/PUT/DELETE on the item (and its ``config``) act on it; index
nodes list their children as ``subdir``; everything else answers with data shaped by ``returns``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from ..apidoc.operation import Operation
from ..errors import PVEError
from ..schema.dialect import Node, read
from ..schema.perl import split_list
from .base import Call, Identity, Incoming, Result
from .samples import sample

_CONFIG_LEAVES = ("", "/config", "/options")


def _digest(item: Mapping[str, Any]) -> str:
    return hashlib.sha1(json.dumps(item, sort_keys=True).encode(), usedforsecurity=False).hexdigest()


def _lists_subdirs(op: Operation) -> bool:
    """A directory index: a GET returning a list of ``{subdir: ...}``."""
    returns = op.returns
    items = returns.get("items") if returns.get("type") == "array" else None
    return op.method == "GET" and isinstance(items, Mapping) and "subdir" in (items.get("properties") or {})


class GenericBackend:
    name = "generic"

    def __init__(self, operations: Iterable[Operation]) -> None:
        ops = list(operations)
        templates = {op.path for op in ops}
        child_params: dict[str, list[str]] = {}
        for template in templates:
            head, _, last = template.rpartition("/")
            if last.startswith("{"):
                child_params.setdefault(head, []).append(last[1:-1])
        self._collections: dict[str, str] = {}
        for op in ops:
            props = op.parameters.get("properties") or {}
            for name in child_params.get(op.path, ()) if op.method == "POST" else ():
                if name in props:
                    self._collections[op.path] = name
        self._children: dict[str, list[str]] = {}
        for template in sorted(templates):
            head, _, last = template.rpartition("/")
            if head and not last.startswith("{"):
                self._children.setdefault(head, []).append(last)
            elif not head and last:
                self._children.setdefault("/", []).append(last)
        self.items: dict[str, dict[str, Any]] = {}
        self._samples: dict[tuple[str, str, bool, tuple[tuple[str, str], ...]], Any] = {}
        self._returns: dict[str, Node] = {}  # each operation's returns, read on first use
        # per-operation facts, worked out here once rather than on requests
        self._indexes = frozenset(op.key for op in ops if _lists_subdirs(op))
        self._positions = {path: self._item_position(path) for path in templates}

    def _is_index(self, op: Operation) -> bool:
        return op.key in self._indexes

    def _sample(self, op: Operation, name: str, context: Mapping[str, str], item: Node | None = None) -> Any:
        """Shaped data for ``op`` (or for one ``item`` of the list it returns); deterministic, so built
        once per operation and path and reused."""
        key = (op.key, name, item is not None, tuple(sorted(context.items())))
        cached = self._samples.get(key)
        if cached is None:
            if len(self._samples) >= 4096:
                self._samples.clear()
            cached = self._samples[key] = sample(item if item is not None else self._returns_node(op), name, context)
        return cached

    def _returns_node(self, op: Operation) -> Node:
        node = self._returns.get(op.key)
        if node is None:
            node = self._returns[op.key] = read(op.returns)
        return node

    async def startup(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def authenticate(self, request: Incoming) -> Identity | None:
        return None  # no credentials: every caller is served

    def authorize(self, operation: Operation, identity: Identity | None, params: Mapping[str, Any]) -> None:
        return None

    def _item_position(self, template_path: str) -> tuple[int, str, str] | None:
        """Where the deepest collection item sits in a template: (segment index, param, rest of path)."""
        template = template_path.strip("/").split("/")
        found: tuple[int, str, str] | None = None
        for index, segment in enumerate(template):
            if not (segment.startswith("{") and segment.endswith("}")):
                continue
            parent = "/" + "/".join(template[:index])
            if self._collections.get(parent) == segment[1:-1]:
                rest = "/" + "/".join(template[index + 1 :]) if index + 1 < len(template) else ""
                found = (index, segment[1:-1], rest)
        return found

    def rebind(self, operations: Iterable[Operation]) -> None:
        """Answer another schema's operations (a live schema swap), keeping the items made so far."""
        fresh = GenericBackend(operations)
        fresh.items = self.items
        self.__dict__.update(fresh.__dict__)

    def clear(self) -> None:
        """Forget every item created so far (a mock reset goes back to the seed for these too)."""
        self.items.clear()

    def _item_of(self, call: Call) -> tuple[str, str, str] | None:
        """The deepest collection item the path lies in: (concrete item path, param, rest of path)."""
        position = self._positions.get(call.operation.path)
        if position is None:
            return None
        index, param, rest = position
        concrete = call.path.strip("/").split("/")
        if index >= len(concrete):
            return None
        return "/" + "/".join(concrete[: index + 1]), param, rest

    async def handle(self, call: Call) -> Result:
        op = call.operation
        context = dict(call.path_params)
        if op.method == "POST" and call.params.get(self._collections.get(op.path, "")) is not None:
            return self._create(call, self._collections[op.path])
        # a path with POST and {id} children can still answer an object (GET .../disks/lvm)
        if op.method == "GET" and op.path in self._collections and op.returns.get("type") == "array":
            return Result(self._list(call.path, self._collections[op.path]))
        located = self._item_of(call)
        if located is not None:
            item_path, param, rest = located
            item = self.items.get(item_path)
            if item is None:
                value = item_path.rsplit("/", 1)[-1]
                raise PVEError(500, f"{param} '{value}' does not exist\n")
            if rest in _CONFIG_LEAVES and not self._is_index(op):
                if op.method == "GET":
                    shown = {**self._required(op, context, item), **item}
                    return Result({**shown, "digest": _digest(item)} if rest else shown)
                if op.method in ("PUT", "POST"):
                    self._update(item, call)
                    return Result(self._sample(op, "upid", context))
                if op.method == "DELETE" and not rest:
                    for key in [k for k in self.items if k == item_path or k.startswith(item_path + "/")]:
                        del self.items[key]
                    return Result(self._sample(op, "upid", context))
        return self.shaped(op, context)

    def shaped(self, op: Operation, context: Mapping[str, str]) -> Result:
        """What an operation that keeps nothing answers: an index's children, or data shaped like
        ``returns`` (``context``: the path parameters, whose values the data repeats)."""
        if self._is_index(op):
            return Result([{"subdir": name} for name in self._children.get(op.path, [])])
        return Result(self._sample(op, "upid" if op.returns_task else "", context))

    def _required(self, op: Operation, context: Mapping[str, str], item: Mapping[str, Any]) -> dict[str, Any]:
        """Sample values for the required ``returns`` properties the item was not created with: an
        item holds its creation parameters, but a client reads what ``returns`` promises (ZFS pool
        details: ``children``, ``errors``, ``state``), as PVE would send them."""
        returns = self._returns_node(op)
        properties = returns.properties if returns.type == "object" else None
        if properties is None:
            return {}
        shaped = self._sample(op, "", context)
        return {k: shaped[k] for k in properties.required
                if k not in item and isinstance(shaped, dict) and k in shaped}

    def completed(self, op: Operation, context: Mapping[str, str], data: Any) -> Any:
        """``data`` (an object, or a list of them) with the non-optional ``returns`` properties it lacks,
        shaped like the schema: what the mock's configuration store answers from what it kept."""
        if isinstance(data, dict):
            return {**self._required(op, context, data), **data}
        returns = self._returns_node(op)
        items = returns.items if returns.type == "array" else None
        properties = items.properties if items is not None and items.type == "object" else None
        if not isinstance(data, list) or items is None or properties is None:
            return data
        # one item shaped on its own: shaped data lists no item that names a cluster object
        shaped = self._sample(op, "", context, items)
        first = shaped if isinstance(shaped, dict) else {}
        needed = properties.required
        return [{**{k: first[k] for k in needed if k not in entry and k in first}, **entry} for entry in data]

    def _create(self, call: Call, param: str) -> Result:
        value = str(call.params[param])
        key = f"{call.path.rstrip('/')}/{value}"
        if key in self.items:
            raise PVEError(500, f"{param} '{value}' already exists\n")
        self.items[key] = {
            k: v for k, v in call.params.items() if k not in call.path_params and v is not None
        }
        return Result(self._sample(call.operation, "upid", call.path_params))

    def _list(self, path: str, param: str) -> list[dict[str, Any]]:
        prefix = path.rstrip("/") + "/"
        return [
            {param: key[len(prefix):], **item}
            for key, item in self.items.items()
            if key.startswith(prefix) and "/" not in key[len(prefix):]
        ]

    def _update(self, item: dict[str, Any], call: Call) -> None:
        params = dict(call.params)
        digest = params.pop("digest", None)
        if isinstance(digest, str) and digest and digest != _digest(item):
            raise PVEError(500, "detected modified configuration - file changed by other user? Try again.\n")
        delete = params.pop("delete", None)
        changes = {k: v for k, v in params.items() if k not in call.path_params and v is not None}
        for key in split_list(delete) if isinstance(delete, str) else []:
            item.pop(key, None)
        item.update(changes)
