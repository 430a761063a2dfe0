"""One immutable record per (method, path) of the API, built once at startup."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

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


RateGroup = Literal["read", "write", "login", "upload"]
LOGIN = ("POST", "/access/ticket")
# PVE's only upload: pve-storage src/PVE/API2/Storage/Status.pm (upload), a multipart body whose file
# part pve-http-server streams to disk (AnyEvent.pm, file_upload_multipart)
UPLOAD_SUFFIX = "/upload"


@dataclass(frozen=True, slots=True)
class Operation:
    """An operation and the facts about it that the request path, the rate limits, the OpenAPI document
    and the mock read: computed here once, from the method, the path and the schema."""

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
    key: str = field(init=False, repr=False, compare=False)
    is_login: bool = field(init=False, repr=False, compare=False)  # POST /access/ticket: logins, renewals
    is_upload: bool = field(init=False, repr=False, compare=False)  # takes a multipart/form-data file
    rate_group: RateGroup = field(init=False, repr=False, compare=False)  # whose budget a call spends
    # answers a worker task's UPID (a write answering a plain string, as PVE's fork_worker callers do);
    # not the few writes that answer another string (wakeonlan's MAC address has a format)
    returns_task: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        facts = object.__setattr__
        facts(self, "key", f"{self.method} {self.path}")
        facts(self, "is_login", (self.method, self.path) == LOGIN)
        facts(self, "is_upload", self.method == "POST" and self.path.endswith(UPLOAD_SUFFIX))
        group: RateGroup = ("read" if self.method == "GET" else "login" if self.is_login
                            else "upload" if self.is_upload else "write")
        facts(self, "rate_group", group)
        facts(self, "returns_task", self.method != "GET" and self.returns.get("type") == "string"
              and not self.returns.get("format"))

    @property
    def is_open(self) -> bool:
        """Reachable without credentials (``permissions.user == 'world'``)."""
        return bool(self.permissions) and (self.permissions or {}).get("user") == "world"
