"""Failed-login throttling: after N failures in a window, a user (or a client) waits before trying again.

A ``Limiter`` sees a request before its password is checked, so it cannot tell a failed login from a
good one; the throttle therefore wraps the login itself (the mock's ``POST /access/ticket``, see
``MockBackend.handle``). Each attempt first asks whether the user or the client address has used up
its failure budget (429 with ``Retry-After`` if so, whatever the password); only a failed attempt
(PVE's 401) spends budget (see :mod:`.failures`).

Spec: ``user=5/minute;client=20/minute``, or one limit (``5/minute``) for both. PVE itself has no such
throttle (it delays each failure by 3 s, which the mock's ``auth_delay`` reproduces), so the mock does
not throttle unless asked: a test suite's deliberate wrong passwords then see exactly what PVE answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from limits import RateLimitItem
from limits.util import parse_many

from . import RateLimits
from .failures import KINDS, FailureThrottle
from .rules import named_parts

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


class LoginThrottle(FailureThrottle):
    def __init__(self, spec: str | Mapping[str, tuple[RateLimitItem, ...]], limits: RateLimits | None = None) -> None:
        super().__init__(parse_throttle(spec) if isinstance(spec, str) else spec, limits, message=MESSAGE,
                         namespace="login-failures")
