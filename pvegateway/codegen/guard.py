"""Who may swap the schema: the admin keys of ``POST /codegen/generate``.

The admin keys are :class:`~pvegateway.secrets.BearerKeys`: kept only as SHA-256 digests and compared
digest to digest, so the comparison time tells nothing about a key; wrong ones are counted per client
(429 after too many). Refusals are PVE's JSON envelope (:mod:`pvegateway.http.site`).
"""

from __future__ import annotations

from starlette.requests import Request

from ..errors import PVEError
from ..http.site import client_of
from ..secrets import BearerKeys


class AdminKeys(BearerKeys):
    """Bearer keys that may swap the schema; empty: nobody may (the endpoint answers 403)."""

    async def check(self, request: Request) -> None:
        """Raise 403 when no key is configured, 401 when the request carries no valid one, 429 when
        its address sent too many wrong ones lately."""
        if not self:
            raise PVEError(403, "codegen: schema generation is disabled - no admin key configured "
                                "(--admin-key-file FILE or PVEGATEWAY_ADMIN_KEY)\n")
        if await self.admits(request.headers, client_of(request)):
            return
        if not self.presented(request.headers):
            raise _unauthorized("codegen: missing 'Authorization: Bearer <admin key>' header\n")
        raise _unauthorized("codegen: invalid admin key\n")


def _unauthorized(message: str) -> PVEError:
    return PVEError(401, message, headers={"WWW-Authenticate": 'Bearer realm="pvegateway codegen"'})
