"""``create_app``: the whole gateway as one ASGI application."""

from __future__ import annotations

import contextlib
import functools
import gc
import os
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from starlette.applications import Starlette
from starlette.routing import BaseRoute
from starlette.types import Receive, Scope, Send

from .apidoc.loader import load_operations, root_index
from .apidoc.operation import Operation
from .apidoc.sources import load_tree, resolve
from .backends.base import Backend
from .backends.generic import GenericBackend
from .http.api import ApiApp, relative_path
from .http.dispatch import Router

BackendName = Literal["generic", "mock", "proxy"]


@dataclass(frozen=True, slots=True)
class Schema:
    """A loaded apidoc tree: its name, node count, operations and the file it was read from."""

    version: str
    nodes: int
    operations: Sequence[Operation]
    source: Path | None = None


def load_schema(apidoc: str | os.PathLike[str] | None = None) -> Schema:
    resolved = resolve(apidoc)
    nodes, operations = load_operations(load_tree(resolved))
    return Schema(resolved.name, nodes, operations, resolved.path)


def make_backend(name: str, schema: Schema, **options: Any) -> Backend:
    operations = [*schema.operations, root_index()]
    if name == "generic":
        return GenericBackend(operations)
    if name == "mock":
        from .backends.mock.backend import MockBackend, MockOptions

        return MockBackend(operations, MockOptions(**options))
    if name == "proxy":
        from .backends.proxy import ProxyBackend, ProxyOptions

        return ProxyBackend(operations, ProxyOptions(**options))
    raise ValueError(f"unknown backend {name!r}: expected one of generic, mock, proxy")


class Gateway:
    """``/api2/...`` goes straight to the API path; everything else to a small Starlette app."""

    def __init__(self, schema: Schema, backend: Backend, *, send_reason: bool = False) -> None:
        self.schema = schema
        self.backend = backend
        self.router = Router([*schema.operations, root_index()])
        self.api = ApiApp(self.router, backend, send_reason=send_reason)
        self.serving = False  # between the backend's startup and its shutdown (what /readyz reports)
        self._lifespan_app = Starlette(lifespan=self.lifespan)
        self._site_extensions: list[Callable[[], Sequence[BaseRoute]]] = []

    @functools.cached_property
    def site(self) -> Starlette:
        """``/openapi.json``, the docs pages and backend extras: built on the first request for them,
        so that starting the gateway (and the API's first answer) does not wait for them."""
        return Starlette(routes=self._routes())

    def _routes(self) -> list[BaseRoute]:
        from . import openapi
        from .apidoc.served import apidoc_route

        routes: list[BaseRoute] = [*openapi.routes(self.schema), apidoc_route(self.schema.source)]
        # a backend with its own management endpoints (the mock's /_gateway control API) offers them here
        extra = getattr(self.backend, "site_routes", None)
        if callable(extra):
            routes.extend(extra())
        for extension in self._site_extensions:
            routes.extend(extension())
        return routes

    def add_site_routes(self, factory: Callable[[], Sequence[BaseRoute]]) -> None:
        """Serve ``factory()``'s routes next to ``/openapi.json`` (e.g. the codegen endpoints); asked
        again whenever the site is rebuilt, so they survive a :meth:`swap`."""
        self._site_extensions.append(factory)
        self.__dict__.pop("site", None)  # built again, with them, on the next request for it

    def swap(self, schema: Schema) -> Schema:
        """Serve ``schema`` from the next request on, without a restart; answers the previous one.

        Each request reads ``self.api`` (router, validators) and ``self.site`` once, when it starts, so
        requests in flight finish with the schema they started with; new ones get the new router and
        validators. The backend stays (its state with it): one with a ``rebind(operations)`` is told
        the new operations. Everything here is synchronous: no request runs between its steps.
        """
        operations = [*schema.operations, root_index()]
        router = Router(operations)
        rebind = getattr(self.backend, "rebind", None)
        if callable(rebind):
            rebind(operations)
        old = self.api
        api = ApiApp(router, self.backend, send_reason=old.send_reason, limiter=old.limiter,
                     observer=old.observer)
        previous = self.schema
        self.schema, self.router, self.api = schema, router, api
        self.__dict__.pop("site", None)  # /openapi.json, apidoc.js and the docs of the new schema
        return previous

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: Any = None) -> AsyncIterator[None]:
        """Start and stop the backend; pass it as the parent app's lifespan when mounting the gateway."""
        await self.backend.startup()
        self.serving = True
        # The schema, validators and router are ~40 MB of long-lived objects: keep the cyclic GC from
        # walking them again and again while it collects each request's garbage.
        gc.freeze()
        # A request allocates hundreds of short-lived objects; collecting every 700 allocations (the
        # default) runs the collector several times per request for garbage reference counting frees.
        gc.set_threshold(max(gc.get_threshold()[0], 20_000), *gc.get_threshold()[1:])
        try:
            yield
        finally:
            self.serving = False
            await self.backend.shutdown()
            close = getattr(self.api.limiter, "aclose", None)  # a Redis-backed limiter's connections
            if close is not None:
                await close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = relative_path(scope)
            if path.startswith("/api2"):
                await self.api.handle(scope, path, receive, send)
                return
        elif scope["type"] == "lifespan":
            await self._lifespan_app(scope, receive, send)
            return
        await self.site(scope, receive, send)


def create_app(
    apidoc: str | os.PathLike[str] | None = None,
    backend: BackendName | Backend = "mock",
    *,
    send_reason: bool = False,
    **backend_options: Any,
) -> Gateway:
    """An ASGI app serving the PVE API of ``apidoc`` (a version name or a path) through ``backend``.

    ``send_reason`` is for servers that understand the gateway's reason-phrase header (``serve`` sets
    it for its own uvicorn protocol); embedded elsewhere, standard phrases are used.
    """
    schema = load_schema(apidoc)
    chosen = make_backend(backend, schema, **backend_options) if isinstance(backend, str) else backend
    return Gateway(schema, chosen, send_reason=send_reason)
