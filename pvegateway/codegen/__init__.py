"""Codegen endpoints: OpenAPI and JSON Schema documents of any installed schema version, and a live
schema swap from a configured source (``POST /codegen/generate``).

Off by default: ``install`` mounts them on a gateway's site (next to ``/openapi.json``); without it
the routes do not exist. ``options`` holds the configuration and the ``serve`` flags, ``documents``
the per-version cache, ``opschemas`` the JSON Schema conversion, ``sources`` the SSRF rules of the
fetch, ``guard`` the admin key and the error envelope, ``endpoints`` the handlers.

Wiring, for ``pvegateway serve``::

    codegen.add_arguments(serve_parser)
    ...
    app = create_app(...)
    codegen.install(app, codegen.from_args(args, state_dir), limits=shared_rate_limits)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .endpoints import PREFIX, Codegen
from .options import ADMIN_KEY_ENV, CodegenOptions, add_arguments, from_args, read_admin_keys

if TYPE_CHECKING:
    from ..app import Gateway
    from ..ratelimit import RateLimits

__all__ = ["ADMIN_KEY_ENV", "PREFIX", "Codegen", "CodegenOptions", "add_arguments", "from_args", "install",
           "read_admin_keys"]


def install(gateway: Gateway, options: CodegenOptions | None, *, limits: RateLimits | None = None) -> Codegen | None:
    """Mount the codegen endpoints on ``gateway`` (None options: nothing, the routes stay 404).

    ``limits``: a shared ``RateLimits`` (e.g. Redis-backed, so several gateways share budgets); by
    default an in-memory one of its own.
    """
    if options is None:
        return None
    codegen = Codegen(gateway, options, limits)
    gateway.add_site_routes(codegen.routes)
    return codegen
