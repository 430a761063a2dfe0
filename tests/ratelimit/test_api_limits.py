"""Rate limits on the PVE API, over real sockets: PVE's 429 envelope, groups, keys, and off by default."""

from __future__ import annotations

import html
import json

import pytest

from pvegateway.app import Gateway, create_app
from pvegateway.ratelimit.api import ApiLimiter
from pvegateway.ratelimit.cli import make_limiter
from tests.compose import limited

from .conftest import call, client, login, serving


async def test_over_budget_is_429_in_pves_envelope_with_retry_after_and_reason(mock: Gateway) -> None:
    mock = limited(mock, "read=2/minute")
    with serving(mock) as api:
        async with client() as session:
            await login(session, api)
            assert [(await call(session, "GET", f"{api}/version")).status for _ in range(2)] == [200, 200]
            refused = await call(session, "GET", f"{api}/version")
    message = "rate limit exceeded for read requests - retry in 60 s\n"
    assert refused.status == 429
    assert refused.body == {"data": None, "message": message}
    assert refused.reason == message.strip()
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["Content-Type"] == "application/json;charset=UTF-8"


@pytest.mark.parametrize("fmt", ["extjs", "htmljs"])
async def test_under_the_extjs_formats_a_429_is_a_200_that_keeps_retry_after(mock: Gateway, fmt: str) -> None:
    """PVE's extjs formatters answer every failure with HTTP 200 and the status in the body
    (pve-http-server src/PVE/APIServer/Formatter/Standard.pm:26-35, prepare_response_data); the wait a
    client must honour still travels in Retry-After."""
    mock = limited(mock, "read=1/minute")
    with serving(mock) as api:
        base = api.replace("/api2/json", f"/api2/{fmt}")
        async with client() as session:
            assert (await call(session, "GET", f"{base}/access/domains")).status == 200
            refused = await call(session, "GET", f"{base}/access/domains")
    assert refused.status == 200
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    body = json.loads(html.unescape(refused.body.decode())) if isinstance(refused.body, bytes) else refused.body
    assert (body["success"], body["status"]) == (0, 429)


async def test_groups_have_independent_budgets(mock: Gateway) -> None:
    mock = limited(mock, "read=2/minute;write=1/minute")
    with serving(mock) as api:
        async with client() as session:
            await login(session, api)  # anonymous: a budget of its own (the logged-in user's is separate)
            writes = [(await call(session, "POST", f"{api}/pools", {"poolid": f"p{n}"})).status for n in range(2)]
            reads = [(await call(session, "GET", f"{api}/pools")).status for _ in range(3)]
            again = await call(session, "DELETE", f"{api}/pools/p0")
    assert writes == [200, 429]
    assert reads == [200, 200, 429]
    assert again.status == 429 and again.body["message"].startswith("rate limit exceeded for write requests")


async def test_a_call_refused_by_one_limit_of_a_group_spends_none_of_the_others(mock: Gateway) -> None:
    """'read=3/minute,2/hour': the hour refuses the third read, so the minute budget keeps its third
    call; before, every limit up to the refusing one was spent."""
    mock = limited(mock, "read=3/minute,2/hour")
    limiter = mock.limiter
    assert isinstance(limiter, ApiLimiter)
    with serving(mock) as api:
        async with client() as session:
            statuses = [(await call(session, "GET", f"{api}/access/domains")).status for _ in range(4)]
    assert statuses == [200, 200, 429, 429]
    operation = mock.api.router.match("GET", "/access/domains").operation
    chosen = limiter.rules.for_operation(operation) if operation is not None else None
    assert chosen is not None
    minute, hour = chosen[1]
    key = ("api", "read", "127.0.0.1", "-")
    assert (await limiter.limits.limiter.get_window_stats(minute, *key)).remaining == 1
    assert (await limiter.limits.limiter.get_window_stats(hour, *key)).remaining == 0


async def test_login_rule_is_its_own_budget(mock: Gateway) -> None:
    mock = limited(mock, "write=1/minute;login=2/minute")
    with serving(mock) as api:
        async with client() as session:
            await login(session, api)
            await login(session, api)
            third = await call(session, "POST", f"{api}/access/ticket", {"username": "root@pam", "password": "x"})
            created = await call(session, "POST", f"{api}/pools", {"poolid": "a"})
    assert third.status == 429 and third.body["message"].startswith("rate limit exceeded for login requests")
    assert created.status == 200


async def test_each_client_address_has_its_own_budget(mock: Gateway) -> None:
    mock = limited(mock, "read=1/minute")
    with serving(mock) as api:
        async with client("127.0.0.1") as first, client("127.0.0.2") as second:
            assert (await call(first, "GET", f"{api}/access/domains")).status == 200
            assert (await call(first, "GET", f"{api}/access/domains")).status == 429
            assert (await call(second, "GET", f"{api}/access/domains")).status == 200


async def test_each_user_has_its_own_budget_from_one_address_and_its_tokens_share_it(mock: Gateway) -> None:
    """Users may create API tokens for themselves: were budgets per token, each new token would be a
    fresh budget (read=5/minute gave 5 more reads per token). They are per user@realm."""
    mock = limited(mock, "read=2/minute")
    with serving(mock) as api:
        async with client() as root, client() as alice, client() as anonymous:
            await login(root, api)
            assert (await call(root, "POST", f"{api}/access/users", {"userid": "alice@pve",
                                                                     "password": "alice-password"})).status == 200
            assert [(await call(root, "GET", f"{api}/version")).status for _ in range(3)] == [200, 200, 429]
            for name in ("ci1", "ci2"):
                made = await call(root, "POST", f"{api}/access/users/root@pam/token/{name}", {"privsep": "0"})
                secret = made.body["data"]
                async with client() as token:
                    token.headers["Authorization"] = f"PVEAPIToken={secret['full-tokenid']}={secret['value']}"
                    assert (await call(token, "GET", f"{api}/version")).status == 429, name
            await login(alice, api, "alice@pve", "alice-password")
            assert [(await call(alice, "GET", f"{api}/version")).status for _ in range(3)] == [200, 200, 429]
            assert (await call(anonymous, "GET", f"{api}/access/domains")).status == 200


async def test_a_refused_write_changes_nothing(mock: Gateway) -> None:
    mock = limited(mock, "write=1/minute")  # per user: the anonymous login does not spend root's write
    with serving(mock) as api:
        async with client() as session:
            await login(session, api)
            assert (await call(session, "POST", f"{api}/pools", {"poolid": "kept"})).status == 200
            assert (await call(session, "POST", f"{api}/pools", {"poolid": "refused"})).status == 429
            pools = await call(session, "GET", f"{api}/pools")
    assert [pool["poolid"] for pool in pools.body["data"]] == ["kept"]


async def test_no_limiter_unless_rules_are_given() -> None:
    gateway = create_app("9.2", "mock")
    assert gateway.api.limiter is None
    assert make_limiter(None) is None and make_limiter("") is None
    with serving(gateway) as api:
        async with client() as session:
            statuses = {(await call(session, "GET", f"{api}/access/domains")).status for _ in range(100)}
    assert statuses == {200}


async def test_an_unreachable_storage_lets_requests_through(mock: Gateway, caplog: pytest.LogCaptureFixture) -> None:
    from .conftest import free_port

    mock = limited(mock, "read=1/minute", f"redis://127.0.0.1:{free_port()}")
    limiter = mock.limiter
    assert isinstance(limiter, ApiLimiter)
    with serving(mock) as api:
        async with client() as session:
            statuses = [(await call(session, "GET", f"{api}/access/domains")).status for _ in range(3)]
    assert statuses == [200, 200, 200]
    assert "rate-limit storage redis://127.0.0.1" in caplog.text and "unavailable" in caplog.text
