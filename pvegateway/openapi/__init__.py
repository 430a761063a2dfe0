"""OpenAPI 3.1 document of a loaded apidoc tree, and the docs pages that show it.

The document is built once per gateway, on the first request for it, and ``/openapi.json`` serves the
pre-encoded bytes from then on: ``convert`` turns PVE's dialect into JSON Schema, ``document`` assembles
paths and responses, ``endpoint`` serves it, ``pages`` the docs UIs. What JSON Schema 2020-12 cannot
say (PVE formats, property strings, Perl regexes) is kept in ``x-pve-*`` keys.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.routing import Route

from .document import SERVER_URL, build_document, encode_document
from .endpoint import OpenAPIEndpoint
from .pages import DocsPages

if TYPE_CHECKING:
    from ..apidoc.schema import Schema

__all__ = ["SERVER_URL", "DocsPages", "OpenAPIEndpoint", "build_document", "encode_document", "routes"]


def routes(schema: Schema) -> list[Route]:
    """``/openapi.json`` (built once, on first use), ``/docs``, ``/redoc`` and their assets."""
    spec = OpenAPIEndpoint(schema)
    pages = DocsPages(f"Proxmox VE {schema.version} API")
    endpoint: Callable[..., Any] = spec
    return [
        Route("/openapi.json", endpoint, methods=["GET"], name="openapi"),
        Route("/docs", pages.swagger, methods=["GET"], name="swagger-ui"),
        Route("/redoc", pages.redoc, methods=["GET"], name="redoc"),
        Route("/docs/assets/{name}", pages.asset, methods=["GET"], name="docs-assets"),
    ]
