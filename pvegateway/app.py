"""``create_app``: the whole gateway as one Starlette application, built from one description."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Sequence
from typing import Any, Literal

from starlette.applications import Starlette
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from .apidoc.schema import Schema, load_schema
from .backends.base import Backend, Rebindable, SiteRoutes
from .backends.generic import GenericBackend
from .extension import Extension
from .http.api import ApiApp, Limiter, Observer
from .http.dispatch import Router
from .http.routes import relative_path

BackendName = Literal["generic", "mock", "proxy"]


def make_backend(name: str, schema: Schema, **options: Any) -> Backend:
    if name == "generic":
        return GenericBackend(schema.operations)
    if name == "mock":
        from .backends.mock.backend import MockBackend, MockOptions

        return MockBackend(schema.operations, MockOptions(**options))
    if name == "proxy":
        from .backends.proxy import ProxyBackend, ProxyOptions

        return ProxyBackend(schema.operations, ProxyOptions(**options))
    raise ValueError(f"unknown backend {name!r}: expected one of generic, mock, proxy")


class Gateway(Starlette):
    """Every operation is a route (``routes``, ``url_path_for``), next to ``/openapi.json``, the docs
    pages and the extensions' routes. ``/api2/...`` requests go straight to the API path: it finds
    their operation in the segment tree and puts the route on the scope as Starlette's router does,
    without scanning the route list."""

    def __init__(self, schema: Schema, backend: Backend, *, send_reason: bool = False,
                 limiter: Limiter | None = None, observer: Observer | None = None,
                 extensions: Sequence[Extension] = ()) -> None:
        super().__init__(lifespan=self.lifespan)
        self.backend = backend
        self.send_reason = send_reason
        self.limiter = limiter
        self.observer = observer
        self.extensions = tuple(extensions)
        self.serving = False  # between the backend's startup and its shutdown (what /readyz reports)
        self._serve(schema)

    def _serve(self, schema: Schema) -> None:
        """Build the API path and the route list for ``schema``. Each request reads ``self.api`` once,
        when it starts, so one in flight finishes with the schema it started with."""
        api = ApiApp(Router(schema.operations), self.backend, send_reason=self.send_reason,
                     limiter=self.limiter, observer=self.observer)
        self.schema, self.api = schema, api
        self.router.routes = [*self._site_routes(), *api.routes]

    def _site_routes(self) -> list[BaseRoute]:
        from . import openapi
        from .apidoc.served import apidoc_route

        routes: list[BaseRoute] = [*openapi.routes(self.schema), apidoc_route(self.schema.source)]
        if isinstance(self.backend, SiteRoutes):  # the mock's /_gateway control API
            routes.extend(self.backend.site_routes())
        for extension in self.extensions:
            routes.extend(extension.routes(self))
        return routes

    def swap(self, schema: Schema) -> Schema:
        """Serve ``schema`` from the next request on, without a restart; answers the previous one.

        The backend stays (its state with it): one that can is told the new operations. Everything
        here is synchronous: no request runs between its steps.
        """
        if isinstance(self.backend, Rebindable):
            self.backend.rebind(schema.operations)
        previous = self.schema
        self._serve(schema)
        return previous

    def build_middleware_stack(self) -> ASGIApp:
        # Starlette's error and exception middleware serve the site routes; the API path answers its
        # own errors as PVE does. User middleware (instrumentation) wraps both.
        site = ServerErrorMiddleware(ExceptionMiddleware(self.router, debug=self.debug), debug=self.debug)

        async def entry(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http":
                path = relative_path(scope)
                if path.startswith("/api2"):
                    scope.setdefault("router", self.router)
                    await self.api.handle(scope, path, receive, send)
                    return
            elif scope["type"] == "websocket":  # a console's .../vncwebsocket
                path = relative_path(scope)
                if path.startswith("/api2"):
                    scope.setdefault("router", self.router)
                    await self.api.handle_websocket(scope, path, receive, send)
                    return
            await site(scope, receive, send)

        app: ASGIApp = entry
        for cls, args, kwargs in reversed(self.user_middleware):
            app = cls(app, *args, **kwargs)
        return app

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: Any = None) -> AsyncIterator[None]:
        """Start and stop the backend; pass it as the host app's lifespan when mounting the gateway."""
        await self.backend.startup()
        self.serving = True
        try:
            yield
        finally:
            self.serving = False
            await self.backend.shutdown()
            if self.limiter is not None:
                await self.limiter.aclose()  # a Redis-backed limiter's connections


def create_app(
    apidoc: Schema | str | os.PathLike[str] | None = None,
    backend: BackendName | Backend = "mock",
    *,
    limiter: Limiter | None = None,
    observer: Observer | None = None,
    extensions: Sequence[Extension] = (),
    send_reason: bool = False,
    **backend_options: Any,
) -> Gateway:
    """An ASGI app serving the PVE API of ``apidoc`` (a loaded :class:`Schema`, a version name or a path)
    through ``backend`` (a name, built with ``backend_options``, or an instance).

    ``send_reason`` is for servers that understand the gateway's reason-phrase header (``serve`` sets
    it for its own uvicorn protocol); embedded elsewhere, standard phrases are used.
    """
    loaded = apidoc if isinstance(apidoc, Schema) else load_schema(apidoc)
    if not isinstance(backend, str) and backend_options:
        raise TypeError(f"backend options {sorted(backend_options)} need a backend name, not an instance")
    chosen = make_backend(backend, loaded, **backend_options) if isinstance(backend, str) else backend
    return Gateway(loaded, chosen, send_reason=send_reason, limiter=limiter, observer=observer,
                   extensions=extensions)
