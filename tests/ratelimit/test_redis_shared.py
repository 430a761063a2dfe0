"""Several gateways, one budget: rate limits counted in a real redis-server are shared."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import redis

from pvegateway.app import Gateway
from pvegateway.ratelimit.api import ApiLimiter
from pvegateway.testing import mock_gateway
from pvegateway.testing_server import ThreadedServer
from tests.compose import limited

from .conftest import call, client


@contextlib.contextmanager
def serving_limited(gateway: Gateway, rules: str, storage: str) -> Iterator[str]:
    """``gateway`` limited by ``rules`` in ``storage``, on a real socket; the gateway's lifespan closes
    the limiter's Redis connections on the server's own loop before it stops."""
    limited_gateway = limited(gateway, rules, storage)
    assert isinstance(limited_gateway.limiter, ApiLimiter)
    server = ThreadedServer(limited_gateway)
    server.start()
    try:
        yield f"http://127.0.0.1:{server.port}/api2/json"
    finally:
        server.close()


async def test_two_gateways_spend_one_budget_in_redis(redis_url: str) -> None:
    with serving_limited(mock_gateway(), "read=3/minute", redis_url) as a, \
            serving_limited(mock_gateway(), "read=3/minute", redis_url) as b:
        async with client() as session:
            allowed = [(await call(session, "GET", f"{api}/access/domains")).status for api in (a, a, b)]
            refused_a = await call(session, "GET", f"{a}/access/domains")
            refused_b = await call(session, "GET", f"{b}/access/domains")
    assert allowed == [200, 200, 200]
    with redis.Redis.from_url(redis_url) as store:
        assert [key.decode() for key in store.keys("LIMITS*")] == ["LIMITS:LIMITER/api/read/127.0.0.1/-/3/1/minute"]
    assert (refused_a.status, refused_b.status) == (429, 429)
    assert 0 < int(refused_a.headers["Retry-After"]) <= 60
    assert 0 < int(refused_b.headers["Retry-After"]) <= 60


async def test_in_memory_budgets_are_per_gateway() -> None:
    with serving_limited(mock_gateway(), "read=1/minute", "memory://") as a, \
            serving_limited(mock_gateway(), "read=1/minute", "memory://") as b:
        async with client() as session:
            statuses = [(await call(session, "GET", f"{api}/access/domains")).status for api in (a, b, a, b)]
    assert statuses == [200, 200, 429, 429]


async def test_budgets_in_redis_are_per_client_and_group(redis_url: str) -> None:
    with serving_limited(mock_gateway(), "read=1/minute;write=1/minute", redis_url) as a, \
            serving_limited(mock_gateway(), "read=1/minute;write=1/minute", redis_url) as b:
        async with client("127.0.0.1") as first, client("127.0.0.3") as other:
            assert (await call(first, "GET", f"{a}/access/domains")).status == 200
            assert (await call(first, "GET", f"{b}/access/domains")).status == 429
            assert (await call(other, "GET", f"{b}/access/domains")).status == 200
            login = await call(first, "POST", f"{b}/access/ticket", {"username": "root@pam", "password": "pvegateway"})
    assert login.status == 200
