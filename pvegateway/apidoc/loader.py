"""Walk an apidoc tree once and build every Operation."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from ..schema.perl import truthy
from ..schema.validate import ParamValidator
from .fixups import fix_parameters, greedy_param
from .operation import Operation, operation_ids

_PARAM = re.compile(r"\{([^}]+)\}")


def walk(tree: Sequence[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    """Every node of the tree, depth first, in the dump's order."""
    stack = list(reversed(tree))
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(node.get("children") or []))


def build_operation(path: str, method: str, info: Mapping[str, Any], id: str) -> Operation:
    parameters = fix_parameters(method, path, info.get("parameters"))
    proxyto = info.get("proxyto")
    return Operation(
        id=id,
        method=method,
        path=path,
        name=str(info.get("name", "")),
        description=str(info.get("description", "")),
        parameters=parameters,
        returns=info.get("returns") or {},
        permissions=info.get("permissions"),
        protected=truthy(info.get("protected")),
        proxyto=str(proxyto) if proxyto else None,
        allowtoken=truthy(info.get("allowtoken", 1)),
        download_allowed=truthy(info.get("download_allowed")),
        expose_credentials=truthy(info.get("expose_credentials")),
        path_params=tuple(_PARAM.findall(path)),
        greedy_param=greedy_param(path),
        validator=ParamValidator(parameters),
    )


def load_operations(tree: Sequence[Mapping[str, Any]]) -> tuple[int, list[Operation]]:
    """(number of tree nodes, operations): ``GET /`` first, then the tree's in its order."""
    nodes = 0
    found: list[tuple[str, str, Mapping[str, Any]]] = [("/", "GET", _ROOT_INDEX)]
    for node in walk(tree):
        nodes += 1
        for method, info in (node.get("info") or {}).items():
            found.append((str(node["path"]), method.upper(), info))
    ids = operation_ids((method, path) for path, method, _info in found)
    return nodes, [build_operation(path, method, info, next(ids)) for path, method, info in found]


# ``GET /``: PVE serves it from API2.pm, outside the dumped tree; it lists the top-level paths.
_ROOT_INDEX: Mapping[str, Any] = {
    "name": "index",
    "description": "Directory index.",
    "parameters": {"additionalProperties": 0, "properties": {}},
    "returns": {"type": "array", "items": {"type": "object", "properties": {"subdir": {"type": "string"}}}},
    "permissions": {"user": "all"},
}
