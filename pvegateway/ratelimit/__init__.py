"""Rate limits with ``limits``: named budgets (``"5/hour"``) per key, in memory or shared through Redis.

``RateLimits.hit(rule, *key)`` spends one unit and answers None (allowed) or the seconds until the
budget allows another call; ``retry_error`` turns that into PVE's envelope with ``Retry-After``.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from ..errors import PVEError


class RateLimits:
    def __init__(self, storage_uri: str = "memory://") -> None:
        self.storage_uri = storage_uri
        uri = storage_uri if storage_uri.startswith("async+") else f"async+{storage_uri}"
        storage = storage_from_string(uri)
        if not isinstance(storage, Storage):
            raise ValueError(f"rate-limit storage {storage_uri!r} has no asyncio implementation")
        self.storage = storage
        self.limiter = MovingWindowRateLimiter(self.storage)
        self._items: dict[str, RateLimitItem] = {}

    def item(self, rule: str) -> RateLimitItem:
        found = self._items.get(rule)
        if found is None:
            found = self._items[rule] = parse(rule)
        return found

    async def hit(self, rule: str, *key: str) -> float | None:
        """Spend one call of ``rule`` (e.g. ``"5/hour"``) for ``key``: None, or seconds to wait."""
        item = self.item(rule)
        if await self.limiter.hit(item, *key):
            return None
        stats = await self.limiter.get_window_stats(item, *key)
        return max(stats.reset_time - time.time(), 0.0)


def retry_error(seconds: float, what: str = "rate limit exceeded") -> PVEError:
    """429 in PVE's envelope, with the whole seconds a client should wait."""
    wait = max(1, math.ceil(seconds))
    return PVEError(429, f"{what} - retry in {wait} s\n", headers={"Retry-After": str(wait)})
