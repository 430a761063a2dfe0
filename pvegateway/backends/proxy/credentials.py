"""Whose credentials go upstream.

By default the caller's own: its ``PVEAuthCookie`` ticket, ``CSRFPreventionToken`` or ``PVEAPIToken``
header pass through untouched, so the node enforces that caller's permissions. A caller the gateway
authenticates itself, with a gateway API key (``Authorization: Bearer <key>``), acts as the gateway's
service account instead. Without configured keys the service account is never used: not an open proxy.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping
from urllib.parse import quote, urlencode

from ...errors import PVEError
from ...secrets import BearerKeys
from ..base import Identity
from .http1 import UpstreamFailure
from .options import ServiceCredential
from .pool import Attempt, Pool, UpstreamError

log = logging.getLogger(__name__)

# request headers a caller's call carries to PVE; anything else (Host, hop-by-hop, a client-set
# PVEDisableProxy, the gateway key) stays here
FORWARDED = ("accept", "accept-encoding", "accept-language", "content-type", "cookie", "authorization",
             "csrfpreventiontoken", "user-agent")
_CALLER_CREDENTIALS = ("cookie", "authorization", "csrfpreventiontoken")
RENEW_AFTER = 3600.0  # proxmoxer's habit: tickets live 2 h, renew at half-life


# gateway API keys: bearer keys, digested and compared in constant time (shared with the other guards)
GatewayKeys = BearerKeys


class ServiceSession:
    """The service account's credential headers; a ticket is obtained on first use and renewed."""

    def __init__(self, credential: ServiceCredential, pool: Pool) -> None:
        self.credential = credential
        self.pool = pool
        self._ticket: tuple[str, str] | None = None  # (ticket, CSRF token)
        self._obtained = 0.0
        self._lock = asyncio.Lock()

    async def headers(self, *, renew: bool = False) -> dict[str, str]:
        if self.credential.token:
            return {"authorization": f"PVEAPIToken={self.credential.token}"}
        async with self._lock:
            current = self._ticket
            if renew or current is None or time.monotonic() - self._obtained > RENEW_AFTER:
                current = await self._login()
            ticket, csrf = current
        return {"cookie": f"PVEAuthCookie={quote(ticket, safe='')}", "csrfpreventiontoken": csrf}

    async def _login(self) -> tuple[str, str]:
        # renew with the ticket itself while it is valid (PVE's way), else the password
        secret = self._ticket[0] if self._ticket and time.monotonic() - self._obtained < 7000 else None
        for password in ([secret] if secret else []) + [self.credential.password]:
            form = urlencode({"username": self.credential.username, "password": password})
            try:
                upstream, connection = await self.pool.request(
                    "POST", "/api2/json/access/ticket",
                    {"content-type": "application/x-www-form-urlencoded"}, form.encode(), idempotent=False)
            except UpstreamError as err:
                raise err.pve_error() from None
            try:
                raw = await connection.read(1024 * 1024)
            except UpstreamFailure as failure:
                raise UpstreamError([Attempt(upstream.name, failure.reason, True)]).pve_error() from None
            finally:
                upstream.client.release(connection)
            status = connection.status
            if status == 200:
                data = json.loads(raw)["data"]
                self._ticket = (data["ticket"], data["CSRFPreventionToken"])
                self._obtained = time.monotonic()
                log.info("service account %s: ticket obtained", self.credential.username)
                return self._ticket
        log.error("service account %s: login refused by PVE (HTTP %d)", self.credential.username, status)
        raise PVEError(502, "the gateway's service account could not log in to PVE; see the gateway's log\n")


def caller_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The caller's headers that go to the node; a bearer ``Authorization`` never does: it holds a
    gateway key (PVE has no bearer scheme), even when this gateway has no keys to check it against."""
    forwarded = {name: headers[name] for name in FORWARDED if name in headers}
    if GatewayKeys.presented(forwarded) is not None:
        del forwarded["authorization"]
    return forwarded


def without_credentials(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in caller_headers(headers).items() if k not in _CALLER_CREDENTIALS}


def service_identity(credential: ServiceCredential) -> Identity:
    userid = credential.userid
    tokenid = credential.token.split("!", 1)[1].split("=", 1)[0] if credential.token else None
    return Identity(userid, tokenid, ticket=credential.token is None, credentials="gateway-key")
