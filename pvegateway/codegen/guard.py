"""Who may call the codegen endpoints, and how a refusal reads: PVE's JSON envelope, always.

The admin keys are :class:`~pvegateway.secrets.BearerKeys`: kept only as SHA-256 digests and compared
digest to digest, so the comparison time tells nothing about a key.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ..errors import PVEError
from ..http import envelope
from ..secrets import BearerKeys


class AdminKeys(BearerKeys):
    """Bearer keys that may swap the schema; empty: nobody may (the endpoint answers 403)."""

    def check(self, request: Request) -> None:
        """Raise 403 when no key is configured, 401 when the request carries no valid one."""
        if not self:
            raise PVEError(403, "codegen: schema generation is disabled - no admin key configured "
                                "(--admin-key-file FILE or PVEGATEWAY_ADMIN_KEY)\n")
        token = self.presented(request.headers)
        if not token:
            raise _unauthorized("codegen: missing 'Authorization: Bearer <admin key>' header\n")
        if not self.valid(token):
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
