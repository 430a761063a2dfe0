"""Codegen endpoints: OpenAPI and JSON Schema documents of any installed schema version, and a live
schema swap from a configured source (``POST /codegen/generate``).

Off by default: a :class:`Codegen` given to ``create_app`` as an extension serves them next to
``/openapi.json``; without it the routes do not exist. ``options`` holds the configuration and the
``serve`` flags, ``documents`` the per-version cache, ``opschemas`` the JSON Schema conversion,
``sources`` the SSRF rules of the fetch, ``guard`` the admin key and the error envelope,
``endpoints`` the handlers.

Wiring, for ``pvegateway serve``::

    codegen.add_arguments(serve_parser)
    ...
    extension = codegen.extension(codegen.from_args(args, state_dir), limits=shared_rate_limits)
    app = create_app(..., extensions=[extension] if extension else [])
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .endpoints import PREFIX, Codegen
from .options import ADMIN_KEY_ENV, CodegenOptions, add_arguments, from_args, read_admin_keys

if TYPE_CHECKING:
    from ..ratelimit import RateLimits

__all__ = ["ADMIN_KEY_ENV", "PREFIX", "Codegen", "CodegenOptions", "add_arguments", "extension", "from_args",
           "read_admin_keys"]


def extension(options: CodegenOptions | None, *, limits: RateLimits | None = None) -> Codegen | None:
    """The codegen endpoints for ``options`` (None: no endpoints, the routes stay 404).

    ``limits``: a shared ``RateLimits`` (e.g. Redis-backed, so several gateways share budgets); by
    default an in-memory one of its own.
    """
    return Codegen(options, limits) if options is not None else None
