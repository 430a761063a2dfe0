"""The ApiApp ``Limiter``: one budget per route group, client address and (verified) user.

Keying: every budget is per client address, and within it per authenticated user (``user@realm``)
when the backend verified one. Why both: users behind one NAT or proxy must not exhaust each other's
budget, and one account used from many places (a proxy's service account admitted by gateway keys)
must not be one budget for everyone. A user's API tokens spend the user's budget: users may create
tokens for themselves, and a budget per token would let anyone mint fresh budgets. Identities are only
those the backend verified (the mock checks tickets and tokens; the proxy only names its service
account after a key check), so a caller cannot mint budgets with made-up credentials. Unauthenticated
calls (logins) are keyed by address alone.

The check runs after authentication and route matching, before validation and the backend: a refused
call changes nothing. When the storage is unreachable (Redis down), requests are let through and a
warning is logged at most once a minute: a limiter outage should not become an API outage.
"""

from __future__ import annotations

import logging
import time

from limits import RateLimitItem

from ..apidoc.operation import Operation
from ..backends.base import Identity
from . import RateLimits, StorageError, retry_error
from .rules import Rules

log = logging.getLogger(__name__)
_WARN_EVERY = 60.0


class ApiLimiter:
    def __init__(self, rules: Rules, limits: RateLimits | None = None) -> None:
        self.rules = rules
        self.limits = limits or RateLimits()
        self._warned = -_WARN_EVERY

    async def check(self, operation: Operation, identity: Identity | None, client: str | None) -> None:
        chosen = self.rules.for_operation(operation)
        if chosen is None:
            return
        group, items = chosen
        key = ("api", group, client or "-", identity.userid if identity is not None else "-")
        try:
            wait = await self._spend(items, key)
        except StorageError as err:
            self._storage_failed(err)
            return
        if wait is not None:
            raise retry_error(wait, f"rate limit exceeded for {group} requests")

    async def _spend(self, items: tuple[RateLimitItem, ...], key: tuple[str, ...]) -> float | None:
        """One call from every limit of the group, or from none: a refused call costs nothing, so
        'read=100/minute,2000/hour' does not use up its minute budget while the hour refuses."""
        if len(items) == 1:
            return await self.limits.hit(items[0], *key)
        waits = [w for w in [await self.limits.test(item, *key) for item in items] if w is not None]
        if waits:
            return max(waits)
        for item in items:
            wait = await self.limits.hit(item, *key)
            if wait is not None:  # spent meanwhile by a concurrent call
                return wait
        return None

    def _storage_failed(self, err: StorageError) -> None:
        now = time.monotonic()
        if now - self._warned >= _WARN_EVERY:
            self._warned = now
            log.warning("rate-limit storage %s unavailable, requests pass unlimited: %s",
                        self.limits.storage_uri, err.storage_error)

    async def aclose(self) -> None:
        await self.limits.aclose()
