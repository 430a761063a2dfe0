"""Who may call the codegen endpoints, and how a refusal reads: PVE's JSON envelope, always.

The admin key is kept only as its SHA-256 digest and compared digest to digest with
``hmac.compare_digest``: equal lengths whatever was sent, so the comparison time tells nothing about
the key, and the key itself never sits in memory longer than startup.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

from starlette.requests import Request
from starlette.responses import Response

from ..errors import PVEError
from ..http import envelope


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


class AdminKeys:
    """Bearer keys that may swap the schema; empty: nobody may (the endpoint answers 403)."""

    def __init__(self, keys: Iterable[str]) -> None:
        self._digests = tuple(_digest(k) for k in keys if k)

    def __bool__(self) -> bool:
        return bool(self._digests)

    def check(self, request: Request) -> None:
        """Raise 403 when no key is configured, 401 when the request carries no valid one."""
        if not self._digests:
            raise PVEError(403, "codegen: schema generation is disabled - no admin key configured "
                                "(--admin-key-file FILE or PVEGATEWAY_ADMIN_KEY)\n")
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized("codegen: missing 'Authorization: Bearer <admin key>' header\n")
        presented = _digest(token.strip())
        valid = False
        for digest in self._digests:  # every key compared: no early exit
            valid |= hmac.compare_digest(presented, digest)
        if not valid:
            raise _unauthorized("codegen: invalid admin key\n")


def _unauthorized(message: str) -> PVEError:
    return PVEError(401, message, headers={"WWW-Authenticate": 'Bearer realm="pvegateway codegen"'})


def client_of(request: Request) -> str:
    """The rate-limit key of a caller: its address (behind a reverse proxy, every caller is the proxy)."""
    return request.client.host if request.client is not None else "unknown"


def error_response(error: PVEError) -> Response:
    """``error`` as the API path renders it: ``{"data": null, "message": ..., "errors": ...}``."""
    rendered = envelope.failure("json", PVEError(error.status, error.message, error.errors,
                                                 headers=error.headers))
    return Response(rendered.body, status_code=rendered.status, headers=rendered.headers,
                    media_type=rendered.content_type)


def success_response(data: object) -> Response:
    rendered = envelope.success("json", data)
    return Response(rendered.body, status_code=rendered.status, media_type=rendered.content_type)
