"""Failure budgets: after N failed attempts in a window, a user or a client address waits before the
next attempt (429 with ``Retry-After``), whether that attempt would succeed or not.

Only failures spend budget; successes neither spend nor wipe it (failures age out of the window), so a
client that owns one account cannot reset its address's count by using it between guesses. A client
over budget is refused even the right secret: otherwise the refusal itself would tell a right guess
from a wrong one, and guessing would go on at full speed.

Two users: the mock's failed logins (:mod:`.login`, per user and per client) and wrong bearer keys
(:func:`key_throttle`, per client address: every guard of the gateway, see
:class:`pvegateway.secrets.BearerKeys`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from limits import RateLimitItem
from limits.util import parse_many

from ..errors import PVEError
from . import RateLimits, retry_error

KINDS = ("user", "client")
KEY_FAILURES = "10/minute"  # wrong keys per client address, for each guard
KEY_MESSAGE = "too many failed authentication attempts"


class FailureThrottle:
    def __init__(self, rules: Mapping[str, tuple[RateLimitItem, ...]], limits: RateLimits | None = None, *,
                 message: str, namespace: str) -> None:
        self.rules = dict(rules)
        self.limits = limits or RateLimits()
        self.message = message
        self.namespace = namespace

    def _keys(self, user: str | None, client: str | None) -> list[tuple[RateLimitItem, tuple[str, ...]]]:
        keys: list[tuple[RateLimitItem, tuple[str, ...]]] = []
        for kind, value in (("user", user), ("client", client)):
            if value:
                keys.extend((item, (self.namespace, kind, value)) for item in self.rules.get(kind, ()))
        return keys

    async def check(self, user: str | None, client: str | None) -> None:
        """Raise 429 when ``user`` or ``client`` has no failures left in the window."""
        for item, key in self._keys(user, client):
            wait = await self.limits.test(item, *key)
            if wait is not None:
                raise retry_error(wait, self.message)

    async def failed(self, user: str | None, client: str | None) -> None:
        """Count one failed attempt against ``user`` and ``client``."""
        for item, key in self._keys(user, client):
            await self.limits.hit(item, *key)

    async def guard(self, user: str | None, client: str | None, attempt: Callable[[], Any]) -> Any:
        """Run ``attempt`` (may return an awaitable) unless throttled; count it if it fails with 401."""
        await self.check(user, client)
        try:
            answer = attempt()
            if inspect.isawaitable(answer):
                answer = await answer
        except PVEError as err:
            if err.status == 401:
                await self.failed(user, client)
            raise
        return answer

    async def aclose(self) -> None:
        await self.limits.aclose()


def key_throttle(rule: str = KEY_FAILURES, limits: RateLimits | None = None) -> FailureThrottle:
    """Wrong bearer keys per client address: after ``rule``'s count in its window, 429."""
    return FailureThrottle({"client": tuple(parse_many(rule))}, limits, message=KEY_MESSAGE,
                           namespace="key-failures")
