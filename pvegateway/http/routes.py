"""Every operation as a Starlette route, matched through the segment tree.

A gateway's ``routes`` list holds one :class:`OperationRoute` per operation, so that a host application
can ``Mount`` them, ``url_path_for(<operation id>, **params)`` builds a PVE path, and instrumentation
that reads routes (span names, metric labels) sees the operation's path template. Matching never scans:
the first route asked about a request finds its operation in the tree, in time proportional to the
path's depth, and leaves the answer in the scope for every other route asked about the same request.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from starlette.datastructures import URLPath
from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import ASGIApp, Receive, Scope, Send

from ..apidoc.operation import Operation
from .dispatch import Router

PREFIX = "/api2/json"  # the path a route names; /api2/extjs/... and the other formats match it too
_API_PATH = re.compile(r"^/api2/+[a-z][a-z0-9]+(/.*)?$", re.DOTALL)
_LOOKUP_KEY = "pvegateway.lookup"


def relative_path(scope: Scope) -> str:
    """The request path below the app's mount point (``root_path``)."""
    path: str = scope.get("path", "")
    root: str = scope.get("root_path", "")
    return path[len(root):] if root and path.startswith(root) else path


def lookup(tree: Router, scope: Scope) -> tuple[Mapping[str, Operation], dict[str, str]] | None:
    """The methods of the path a request names and its path parameters (None: no such path).

    Done once per request and kept in the scope: each route of a router that asks reuses it.
    """
    cached: tuple[str, Any] | None = scope.get(_LOOKUP_KEY)
    path = relative_path(scope)
    if cached is not None and cached[0] == path:
        found: tuple[Mapping[str, Operation], dict[str, str]] | None = cached[1]
        return found
    api = _API_PATH.match(path) if scope.get("type") in ("http", "websocket") else None
    found = tree.lookup(api.group(1) or "/") if api is not None else None
    scope[_LOOKUP_KEY] = (path, found)
    return found


class OperationRoute(BaseRoute):
    """One PVE operation: ``path`` is its template below ``/api2/json``, ``name`` its unique id."""

    def __init__(self, operation: Operation, endpoint: ASGIApp, tree: Router) -> None:
        self.operation = operation
        self.endpoint = endpoint
        self.tree = tree
        self.name = operation.id
        self.path = PREFIX + operation.path.rstrip("/") if operation.path != "/" else PREFIX + "/"
        self.path_format = self.path  # what FastAPI-aware instrumentation (OpenTelemetry's ASGI) reads
        self.methods = {operation.method}

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        found = lookup(self.tree, scope)
        if found is None:
            return Match.NONE, {}
        methods, params = found
        if methods.get(self.operation.method) is not self.operation:
            return Match.NONE, {}
        child = {"endpoint": self.endpoint, "path_params": params}
        method = scope.get("method", "GET")  # a WebSocket handshake is a GET (a console's vncwebsocket)
        return (Match.FULL if method == self.operation.method else Match.PARTIAL), child

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        wanted = set(self.operation.path_params)
        if name != self.name or set(path_params) != wanted:
            raise NoMatchFound(name, path_params)
        path = self.path
        for key, value in path_params.items():
            safe = "/" if key == self.operation.greedy_param else ""
            path = path.replace("{" + key + "}", quote(str(value), safe=safe))
        return URLPath(path=path, protocol="http")

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.endpoint(scope, receive, send)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.operation.method} {self.path!r}, name={self.name!r})"
