"""Find a request's operation in time proportional to the path's depth, not the number of routes.

A tree of path segments, as PVE's RESTHandler walks its subclasses: literal children first, then the
one ``{param}`` child of a node. A greedy parameter (``fragmentDelimiter => ''`` in PVE) takes the rest
of the path, slashes included.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ..apidoc.operation import Operation


@dataclass(slots=True)
class _Node:
    literal: dict[str, _Node] = field(default_factory=dict)
    param: tuple[str, _Node] | None = None
    greedy: str | None = None
    methods: dict[str, Operation] = field(default_factory=dict)


@dataclass(slots=True)  # made on every request: a frozen one's __init__ costs several times more
class Match:
    node_found: bool
    operation: Operation | None
    params: dict[str, str]


class Router:
    def __init__(self, operations: Iterable[Operation]) -> None:
        self._root = _Node()
        self.operations = list(operations)
        for op in self.operations:
            self._add(op)

    def _add(self, op: Operation) -> None:
        node = self._root
        for segment in op.path.strip("/").split("/") if op.path.strip("/") else []:
            if segment.startswith("{") and segment.endswith("}"):
                name = segment[1:-1]
                if node.param is None:
                    node.param = (name, _Node())
                node = node.param[1]
                if name == op.greedy_param:
                    node.greedy = name
            else:
                node = node.literal.setdefault(segment, _Node())
        node.methods[op.method] = op

    def match(self, method: str, rel_path: str) -> Match:
        found = self.lookup(rel_path)
        if found is None:
            return Match(False, None, {})
        methods, params = found
        return Match(True, methods.get(method), params)

    def lookup(self, rel_path: str) -> tuple[Mapping[str, Operation], dict[str, str]] | None:
        """The operations of a path, by method, and its parameters; None when no operation has that path.

        Segments are split on ``/`` with empty ones dropped, like PVE."""
        segments = [s for s in rel_path.split("/") if s]
        params: dict[str, str] = {}
        node = self._root
        index = 0
        while index < len(segments):
            segment = segments[index]
            child = node.literal.get(segment)
            if child is not None:
                node = child
            elif node.param is not None:
                name, child = node.param
                if child.greedy:
                    params[name] = "/".join(segments[index:])
                    node = child
                    break
                params[name] = segment
                node = child
            else:
                return None
            index += 1
        if not node.methods:
            return None
        return node.methods, params
