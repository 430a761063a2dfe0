"""Failed-login throttling in the mock: after N failures a user, or a client, gets 429 before any
password is checked; successes cost nothing; off unless asked, as on PVE."""

from __future__ import annotations

import aiohttp

from pvegateway.testing import mock_gateway

from .conftest import Answer, call, client, login, serving

MESSAGE = "too many failed logins - retry in 60 s\n"


async def attempt(session: aiohttp.ClientSession, api: str, user: str, password: str) -> Answer:
    return await call(session, "POST", f"{api}/access/ticket", {"username": user, "password": password})


async def test_failures_for_one_user_throttle_that_user_only() -> None:
    with serving(mock_gateway(login_throttle="user=3/minute;client=100/minute")) as api:
        async with client() as admin, client() as session:
            await login(admin, api)
            made = await call(admin, "POST", f"{api}/access/users", {"userid": "alice@pve", "password": "alicepass"})
            assert made.status == 200
            failures = [(await attempt(session, api, "root@pam", "wrong")).status for _ in range(3)]
            refused = await attempt(session, api, "root@pam", "pvegateway")  # right password, still refused
            other = await attempt(session, api, "alice@pve", "alicepass")
            by_realm = await attempt(session, api, "root", "pvegateway")  # the same user, named by realm...
            by_realm_field = await call(session, "POST", f"{api}/access/ticket",
                                        {"username": "root", "realm": "pam", "password": "pvegateway"})
    assert failures == [401, 401, 401]
    assert refused.status == 429
    assert refused.body == {"data": None, "message": MESSAGE}
    assert refused.reason == MESSAGE.strip()
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert other.status == 200
    assert by_realm.status == 401  # ..."root" without a realm is no user: its own (unspent) budget
    assert by_realm_field.status == 429


async def test_failures_from_one_client_throttle_that_client_only() -> None:
    with serving(mock_gateway(login_throttle="user=100/minute;client=3/minute")) as api:
        async with client("127.0.0.1") as guesser, client("127.0.0.4") as neighbour:
            failures = [(await attempt(guesser, api, f"user{n}@pve", "guess")).status for n in range(3)]
            refused = await attempt(guesser, api, "root@pam", "pvegateway")
            elsewhere = await attempt(neighbour, api, "root@pam", "pvegateway")
    assert failures == [401, 401, 401]
    assert refused.status == 429 and refused.body["message"] == MESSAGE
    assert elsewhere.status == 200


async def test_successful_logins_spend_nothing() -> None:
    with serving(mock_gateway(login_throttle="2/minute")) as api:
        async with client() as session:
            successes = [(await attempt(session, api, "root@pam", "pvegateway")).status for _ in range(10)]
            failures = [(await attempt(session, api, "root@pam", "wrong")).status for _ in range(3)]
    assert successes == [200] * 10
    assert failures == [401, 401, 429]


async def test_a_refused_login_mints_no_ticket_and_spends_no_more_budget() -> None:
    gateway = mock_gateway(login_throttle="user=1/minute;client=2/minute")
    with serving(gateway) as api:
        async with client() as session:
            assert (await attempt(session, api, "root@pam", "wrong")).status == 401
            refused = [await attempt(session, api, "root@pam", "pvegateway") for _ in range(3)]
            other_user = await attempt(session, api, "nobody@pve", "wrong")
    assert {answer.status for answer in refused} == {429}
    assert all(answer.body["data"] is None for answer in refused)
    # refusals are not failures: the client's budget of 2 still had room for one more real failure
    assert other_user.status == 401


async def test_no_throttle_unless_asked() -> None:
    with serving(mock_gateway()) as api:
        async with client() as session:
            failures = {(await attempt(session, api, "root@pam", "wrong")).status for _ in range(30)}
            success = await attempt(session, api, "root@pam", "pvegateway")
    assert failures == {401}
    assert success.status == 200
