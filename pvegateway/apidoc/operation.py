"""One immutable record per (method, path) of the API, built once at startup."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..schema.validate import ParamValidator


@dataclass(frozen=True, slots=True)
class Operation:
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
