"""One immutable record per (method, path) of the API, built once at startup."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..schema.validate import ParamValidator

_ID_CHARS = re.compile(r"[^A-Za-z0-9]+")


def operation_ids(keys: Iterable[tuple[str, str]]) -> Iterator[str]:
    """A unique id per (method, path template), in order: ``get_nodes_node_qemu_vmid_status_current``.

    The OpenAPI document's ``operationId`` and the Starlette route's ``name``; a second operation that
    would get the same id gets ``_2``, then ``_3``."""
    used: set[str] = set()
    for method, path in keys:
        words = [_ID_CHARS.sub("_", segment.strip("{}")).strip("_") for segment in path.split("/")]
        base = "_".join([method.lower(), *[w for w in words if w]]).lower()
        candidate, n = base, 2
        while candidate in used:
            candidate, n = f"{base}_{n}", n + 1
        used.add(candidate)
        yield candidate


@dataclass(frozen=True, slots=True)
class Operation:
    id: str
    method: str
    path: str
    name: str
    description: str
    parameters: Mapping[str, Any]
    returns: Mapping[str, Any]
    permissions: Mapping[str, Any] | None
    protected: bool
    proxyto: str | None
    allowtoken: bool
    download_allowed: bool
    expose_credentials: bool
    path_params: tuple[str, ...]
    greedy_param: str | None
    validator: ParamValidator = field(repr=False, compare=False)

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def is_open(self) -> bool:
        """Reachable without credentials (``permissions.user == 'world'``)."""
        return bool(self.permissions) and (self.permissions or {}).get("user") == "world"
