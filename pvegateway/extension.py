"""What an extension of the gateway (health, metrics, codegen) sees of it.

The gateway (:mod:`.app`) composes its extensions; they know it only through :class:`Site`, so
nothing below the composition root imports it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from starlette.routing import BaseRoute

from .apidoc.schema import Schema
from .backends.base import Backend


class Site(Protocol):
    """The running gateway: the schema it serves, its backend, and a way to serve another schema."""

    @property
    def schema(self) -> Schema: ...

    @property
    def backend(self) -> Backend: ...

    @property
    def serving(self) -> bool:
        """Between the backend's startup and its shutdown (what /readyz reports)."""
        ...

    def swap(self, schema: Schema) -> Schema:
        """Serve ``schema`` from the next request on; answers the previous one."""
        ...


class Extension(Protocol):
    """Routes served next to ``/openapi.json`` that need the gateway (health, metrics, codegen): asked
    for them whenever the site is built, so they follow a :meth:`Site.swap`."""

    def routes(self, gateway: Site) -> Sequence[BaseRoute]: ...
