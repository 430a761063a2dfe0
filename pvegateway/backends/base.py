"""The Backend protocol and what it receives."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ..apidoc.operation import Operation


@dataclass(frozen=True, slots=True)
class Call:
    """One validated request: its operation, the merged parameters and the concrete path."""

    operation: Operation
    params: Mapping[str, Any]
    path: str
    path_params: Mapping[str, str]
    headers: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Result:
    data: Any = None
    total: Any = None
    changes: Any = None


class Backend(Protocol):
    async def startup(self) -> None: ...

    async def shutdown(self) -> None: ...

    async def handle(self, call: Call) -> Result:
        """Answer ``call``, or raise PVEError with PVE's status and message."""
        ...
