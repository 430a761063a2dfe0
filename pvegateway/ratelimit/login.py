"""Failed-login throttling: after N failures in a window, a user (or a client) waits before trying again.

A ``Limiter`` sees a request before its password is checked, so it cannot tell a failed login from a
good one; the throttle therefore wraps the login itself (the mock's ``POST /access/ticket``, see
``MockBackend.handle``). Each attempt first asks whether the user or the client address has used up
its failure budget (429 with ``Retry-After`` if so, whatever the password: a correct guess must not
be told apart from a wrong one); only a failed attempt (PVE's 401) spends budget. Successes spend
nothing and do not wipe earlier failures: they age out of the window, so a client that owns one
account cannot reset its address's count by logging into it between guesses.

Spec: ``user=5/minute;client=20/minute``, or one limit (``5/minute``) for both. PVE itself has no such
throttle (it delays each failure by 3 s, which the mock's ``auth_delay`` reproduces), so the mock does
not throttle unless asked: a test suite's deliberate wrong passwords then see exactly what PVE answers.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from limits import RateLimitItem
from limits.util import parse_many

from ..errors import PVEError
from . import RateLimits, retry_error
from .rules import named_parts

KINDS = ("user", "client")
MESSAGE = "too many failed logins"


def parse_throttle(spec: str) -> dict[str, tuple[RateLimitItem, ...]]:
    """``user=5/minute;client=20/minute`` or ``5/minute`` (both) → limits per kind."""
    found: dict[str, tuple[RateLimitItem, ...]] = {}
    for name, text in named_parts(spec):
        kinds = (name.lower(),) if name is not None else KINDS
        if kinds[0] not in KINDS:
            raise ValueError(f"unknown login-throttle key {name!r} (keys: user, client)")
        try:
            items = tuple(parse_many(text))
        except ValueError:
            raise ValueError(f"cannot read {text!r} as a limit (e.g. 5/minute)") from None
        for kind in kinds:
            found[kind] = found.get(kind, ()) + items
    if not found:
        raise ValueError("empty login-throttle spec: expected e.g. user=5/minute;client=20/minute")
    return found


def login_userid(params: Mapping[str, Any]) -> str:
    """The user a login names, as PVE's ``create_ticket`` reads it (``username`` and optional ``realm``)."""
    username = str(params.get("username", ""))
    realm = params.get("realm")
    return username if "@" in username or not realm else f"{username}@{realm}"


class LoginThrottle:
    def __init__(self, spec: str | Mapping[str, tuple[RateLimitItem, ...]], limits: RateLimits | None = None) -> None:
        self.rules = parse_throttle(spec) if isinstance(spec, str) else dict(spec)
        self.limits = limits or RateLimits()

    def _keys(self, user: str | None, client: str | None) -> list[tuple[RateLimitItem, tuple[str, ...]]]:
        keys: list[tuple[RateLimitItem, tuple[str, ...]]] = []
        for kind, value in (("user", user), ("client", client)):
            if value:
                keys.extend((item, ("login-failures", kind, value)) for item in self.rules.get(kind, ()))
        return keys

    async def check(self, user: str | None, client: str | None) -> None:
        """Raise 429 when ``user`` or ``client`` has no failures left in the window."""
        for item, key in self._keys(user, client):
            wait = await self.limits.test(item, *key)
            if wait is not None:
                raise retry_error(wait, MESSAGE)

    async def failed(self, user: str | None, client: str | None) -> None:
        """Count one failed attempt against ``user`` and ``client``."""
        for item, key in self._keys(user, client):
            await self.limits.hit(item, *key)

    async def guard(self, user: str | None, client: str | None, attempt: Callable[[], Any]) -> Any:
        """Run ``attempt`` (the login; may return an awaitable) unless throttled; count it if it fails with 401."""
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
