"""Rate limits with ``limits``: named budgets (``"5/hour"``) per key, in memory or shared through Redis.

``RateLimits.hit(rule, *key)`` spends one unit and answers None (allowed) or the seconds until the
budget allows another call; ``retry_error`` turns that into PVE's envelope with ``Retry-After``.
The moving-window strategy is used: it never lets a burst through at a window's edge, and its
``reset_time`` is exact, so ``Retry-After`` tells a client the truth.

Budgets live where ``storage_uri`` says: ``memory://`` (one process) or ``redis://HOST:PORT`` (every
gateway using that server spends one shared budget; limits' Lua scripts make each hit atomic).

What builds on this: :mod:`.rules` (route groups and the ``--rate-limit`` spec), :mod:`.api` (the
ApiApp ``Limiter``), :mod:`.login` (failed-login throttling), :mod:`.cli` (flags and installation).
"""

from __future__ import annotations

import asyncio
import math
import time
from urllib.parse import urlparse

from limits import RateLimitItem, parse
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from limits.storage import storage_from_string

from ..errors import PVEError

__all__ = ["RateLimits", "StorageError", "retry_error"]


def _storage(storage_uri: str) -> Storage:
    uri = storage_uri if storage_uri.startswith("async+") else f"async+{storage_uri}"
    # a storage failure surfaces as limits' StorageError, whatever the client library, so callers can
    # decide what an unreachable Redis means (the API limiter lets requests through)
    options: dict[str, str | bool] = {"wrap_exceptions": True}
    if urlparse(uri).scheme.startswith("async+redis"):
        options["implementation"] = "redispy"  # the `redis` package; limits defaults to coredis
    try:
        storage = storage_from_string(uri, **options)
    except Exception as err:  # limits raises ConfigurationError or a missing-dependency error
        raise ValueError(f"rate-limit storage {storage_uri!r}: {err}") from None
    if not isinstance(storage, Storage):
        raise ValueError(f"rate-limit storage {storage_uri!r} has no asyncio implementation")
    return storage


class RateLimits:
    def __init__(self, storage_uri: str = "memory://") -> None:
        self.storage_uri = storage_uri
        self.storage = _storage(storage_uri)
        self.limiter = MovingWindowRateLimiter(self.storage)
        self._items: dict[str, RateLimitItem] = {}

    def item(self, rule: str | RateLimitItem) -> RateLimitItem:
        if isinstance(rule, RateLimitItem):
            return rule
        found = self._items.get(rule)
        if found is None:
            found = self._items[rule] = parse(rule)
        return found

    async def hit(self, rule: str | RateLimitItem, *key: str) -> float | None:
        """Spend one call of ``rule`` (e.g. ``"5/hour"``) for ``key``: None, or seconds to wait."""
        item = self.item(rule)
        if await self.limiter.hit(item, *key):
            return None
        return await self._wait(item, key)

    async def test(self, rule: str | RateLimitItem, *key: str) -> float | None:
        """Like :meth:`hit` without spending: None while ``key`` has budget left, else seconds to wait."""
        item = self.item(rule)
        if await self.limiter.test(item, *key):
            return None
        return await self._wait(item, key)

    async def _wait(self, item: RateLimitItem, key: tuple[str, ...]) -> float:
        stats = await self.limiter.get_window_stats(item, *key)
        return max(stats.reset_time - time.time(), 0.0)

    async def aclose(self) -> None:
        """Release the storage's connections (Redis) or its expiry task (memory), on the loop that used them."""
        client = getattr(getattr(self.storage, "bridge", None), "storage", None)
        close = getattr(client, "aclose", None)
        if close is not None:
            await close()
        timer = getattr(self.storage, "timer", None)
        if isinstance(timer, asyncio.Task) and not timer.done():
            timer.cancel()


def retry_error(seconds: float, what: str = "rate limit exceeded") -> PVEError:
    """429 in PVE's envelope, with the whole seconds a client should wait."""
    wait = max(1, math.ceil(seconds))
    return PVEError(429, f"{what} - retry in {wait} s\n", headers={"Retry-After": str(wait)})
