"""Turning rate limits on: ``serve`` flags, and :func:`make_limiter` for code that builds its own gateway
(``create_app(..., limiter=make_limiter("read=100/second"))``).

The PVE API is not limited unless rules are given (a PVE node has no rate limit, and the mock's users
are mostly test suites): no rules, no limiter installed, nothing on the request path.
"""

from __future__ import annotations

import argparse
import os

from . import RateLimits
from .api import ApiLimiter
from .login import parse_throttle
from .rules import Rules, parse_rules

ENV_RULES = "PVEGATEWAY_RATE_LIMIT"
ENV_STORAGE = "PVEGATEWAY_RATE_LIMIT_STORAGE"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("rate limits")
    group.add_argument(
        "--rate-limit", metavar="SPEC", default=os.environ.get(ENV_RULES),
        help="per-client budgets by route group, e.g. 'write=20/second;read=100/second;login=5/minute' "
             f"(groups: read, write, login, upload; default: none, or ${ENV_RULES})")
    group.add_argument(
        "--rate-limit-storage", metavar="URI", default=os.environ.get(ENV_STORAGE, "memory://"),
        help="where budgets are counted: memory:// (this process) or redis://HOST:PORT (shared by every "
             f"gateway using it); default memory:// or ${ENV_STORAGE}")
    group.add_argument(
        "--login-throttle", metavar="SPEC", default=None,
        help="mock mode: refuse logins (429) after repeated failures, e.g. 'user=5/minute;client=20/minute' "
             "or '5/minute' for both (default: off, as on PVE)")


def _rules(rules: str | Rules) -> Rules:
    return parse_rules(rules) if isinstance(rules, str) else rules


def limiter_from_args(args: argparse.Namespace) -> ApiLimiter | None:
    """The limiter ``--rate-limit`` asks for, or None; a bad spec or storage exits with its reason."""
    spec = getattr(args, "rate_limit", None)
    if not spec:
        return None
    try:
        return ApiLimiter(parse_rules(spec), RateLimits(getattr(args, "rate_limit_storage", None) or "memory://"))
    except ValueError as err:
        raise SystemExit(f"--rate-limit: {err}") from None


def workers_warning(args: argparse.Namespace) -> str | None:
    """What to tell an operator who runs several workers with budgets in each process's memory: each
    worker counts its own, so a client gets up to N times each limit. None when nothing is multiplied."""
    workers = getattr(args, "workers", 1)
    storage = getattr(args, "rate_limit_storage", None) or "memory://"
    if workers <= 1 or not getattr(args, "rate_limit", None) or not storage.startswith(("memory:", "async+memory:")):
        return None
    return (f"pvegateway: warning: --workers {workers} with in-memory rate limits: each worker counts its own "
            f"budgets, so a client may get up to {workers} times each limit; --rate-limit-storage "
            "redis://HOST:PORT shares them (wrong-key counts stay per worker)")


def mock_options_from_args(args: argparse.Namespace) -> dict[str, str]:
    """MockOptions fields from the flags (``login_throttle``), checked now so a typo fails at startup."""
    spec = getattr(args, "login_throttle", None)
    if not spec:
        return {}
    try:
        parse_throttle(spec)
    except ValueError as err:
        raise SystemExit(f"--login-throttle: {err}") from None
    return {"login_throttle": spec}


def make_limiter(rules: str | Rules | None, storage_uri: str = "memory://") -> ApiLimiter | None:
    """The limiter of ``rules`` (None: no limiter, nothing on the request path). Its ``aclose()``, which
    the gateway's lifespan calls, releases a Redis connection pool."""
    return ApiLimiter(_rules(rules), RateLimits(storage_uri)) if rules else None
