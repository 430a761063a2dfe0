"""Forged, expired and replayed credentials: PVE's bodiless 401s, and nothing changes.

Tickets are stateless in PVE (signed, no session): a password change does not end them, a deleted,
disabled or expired user does. Each test has a cluster of its own, as the setup changes users.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from pvegateway.testing import PVEMock, running_mock

from .wire import Login, exchange, login, request

AUTH_FAILED = (401, b"Authentication failed!")
BAD_CSRF = (401, b"Permission denied - invalid csrf token")
CREATE = "/api2/json/nodes/pve1/qemu"


@pytest.fixture
def pve() -> Iterator[PVEMock]:
    with running_mock() as mock:
        yield mock


@pytest.fixture
def root(pve: PVEMock) -> Login:
    return login(pve.url, pve.user, pve.password)


@pytest.fixture
def alice(pve: PVEMock, root: Login) -> Login:
    with httpx.Client(base_url=f"{pve.url}/api2/json", headers=root.headers) as api:
        created = api.post("/access/users", data={"userid": "alice@pve", "password": "alice-secret"})
        assert created.status_code == 200
        assert api.put("/access/acl", data={"path": "/", "users": "alice@pve", "roles": "Administrator"}).is_success
    return login(pve.url, "alice@pve", "alice-secret")


def token(pve: PVEMock, root: Login, userid: str, name: str, **options: str) -> str:
    response = httpx.post(f"{pve.url}/api2/json/access/users/{userid}/token/{name}", headers=root.headers,
                          data={"privsep": "0", **options})
    assert response.status_code == 200, response.text
    return f"{userid}!{name}={response.json()['data']['value']}"


def attempt(pve: PVEMock, headers: dict[str, str]) -> tuple[tuple[int, bytes], bytes]:
    """Try to create VM 150 (a write: CSRF applies) and report the answer; the VM must not appear."""
    before = pve.control.dump()
    reply = exchange(pve.port, request("POST", CREATE, headers=headers, body=b"vmid=150",
                                       content_type="application/x-www-form-urlencoded"))
    if reply.status != 200:
        assert pve.control.dump() == before
    return (reply.status, reply.reason), reply.body


def forge(ticket: str, position: int) -> str:
    replaced = "A" if ticket[position] != "A" else "B"
    return ticket[:position] + replaced + ticket[position + 1:]


@pytest.mark.parametrize("mangle", [
    lambda t: forge(t, len(t) - 1),  # signature
    lambda t: t.replace("root@pam", "alice@pve"),  # user
    lambda t: t.replace(t.split(":")[2], f"{int(t.split(':')[2], 16) + 60:08X}"),  # timestamp
    lambda t: t.split("::")[0] + "::",  # no signature
    lambda t: "PVE:root@pam:FFFFFFFF::" + t.split("::")[1],
    lambda t: t + "A" * 4000,
    lambda t: "PVE:root@pam%0d%0aX:00000000::x",
    lambda t: "",
])
def test_a_forged_ticket_is_authentication_failed(pve: PVEMock, root: Login, mangle: object) -> None:
    ticket = mangle(root.ticket)  # type: ignore[operator]
    status, body = attempt(pve, {"Cookie": f"PVEAuthCookie={ticket}", "CSRFPreventionToken": root.csrf})
    assert status in (AUTH_FAILED, (401, b"No ticket")) and body == b""


@pytest.mark.parametrize(("seconds", "expected"), [(7199, (501, b"")), (7200, AUTH_FAILED), (10**6, AUTH_FAILED)])
def test_a_ticket_expires_after_two_hours(pve: PVEMock, root: Login, seconds: int,
                                          expected: tuple[int, bytes]) -> None:
    pve.control.advance(seconds)
    reply = exchange(pve.port, request("GET", "/api2/json/nodes/pve1/nothing", headers=root.headers))
    assert reply.status == expected[0]
    if reply.status == 401:
        assert (reply.status, reply.reason, reply.body) == (*AUTH_FAILED, b"")


def test_a_deleted_users_ticket_is_refused(pve: PVEMock, root: Login, alice: Login) -> None:
    assert httpx.delete(f"{pve.url}/api2/json/access/users/alice@pve", headers=root.headers).status_code == 200
    assert attempt(pve, alice.headers) == (AUTH_FAILED, b"")


@pytest.mark.parametrize("change", [{"enable": "0"}, {"expire": "1000"}])
def test_a_disabled_or_expired_users_ticket_is_refused(pve: PVEMock, root: Login, alice: Login,
                                                        change: dict[str, str]) -> None:
    response = httpx.put(f"{pve.url}/api2/json/access/users/alice@pve", headers=root.headers, data=change)
    assert response.status_code == 200
    assert attempt(pve, alice.headers) == (AUTH_FAILED, b"")


def test_a_ticket_outlives_a_password_change_as_in_pve(pve: PVEMock, root: Login, alice: Login) -> None:
    response = httpx.put(f"{pve.url}/api2/json/access/password", headers=root.headers,
                         data={"userid": "alice@pve", "password": "changed-secret"})
    assert response.status_code == 200
    reply = exchange(pve.port, request("GET", "/api2/json/version", headers=alice.headers))
    assert reply.status == 200


@pytest.mark.parametrize("csrf", ["other", "missing", "forged", "swapped", "crlf"])
def test_a_csrf_token_not_of_the_tickets_user_is_refused(pve: PVEMock, root: Login, alice: Login,
                                                          csrf: str) -> None:
    value = {"other": alice.csrf, "forged": forge(root.csrf, len(root.csrf) - 1),
             "swapped": root.csrf.split(":")[0] + ":" + alice.csrf.split(":")[1],
             "crlf": root.csrf + "%0d%0a"}.get(csrf)
    headers = {"Cookie": f"PVEAuthCookie={root.ticket}"}
    if value is not None:
        headers["CSRFPreventionToken"] = value
    assert attempt(pve, headers) == (BAD_CSRF, b"")


def test_the_right_csrf_token_is_accepted(pve: PVEMock, root: Login) -> None:
    status, _ = attempt(pve, root.headers)
    assert status == (200, b"OK")


@pytest.mark.parametrize("form", [
    "PVEAPIToken={id}:{secret}",  # PBS's separator
    "PVEAPIToken={id}={secret}x",
    "PVEAPIToken={id}=",
    "PVEAPIToken={id}",
    "PVEAPIToken=root@pam!nosuch={secret}",
    "PVEAPIToken=root@pam={secret}",
    "PVEAPIToken=alice@pve!ci={secret}",
    "Bearer {id}={secret}",
])
def test_a_malformed_or_foreign_token_is_refused(pve: PVEMock, root: Login, form: str) -> None:
    full = token(pve, root, "root@pam", "ci")
    token_id, secret = full.rsplit("=", 1)
    status, body = attempt(pve, {"Authorization": form.format(id=token_id, secret=secret)})
    assert status in (AUTH_FAILED, (401, b"No ticket")) and body == b""


def test_a_good_token_works_and_a_bad_cookie_still_wins(pve: PVEMock, root: Login) -> None:
    full = token(pve, root, "root@pam", "ci")
    ok = exchange(pve.port, request("GET", "/api2/json/version", headers={"Authorization": f"PVEAPIToken={full}"}))
    assert ok.status == 200
    status, _ = attempt(pve, {"Authorization": f"PVEAPIToken={full}", "Cookie": "PVEAuthCookie=PVE:forged"})
    assert status == AUTH_FAILED


@pytest.mark.parametrize("revoke", ["delete user", "delete token", "disable user", "token expired"])
def test_a_revoked_token_is_refused(pve: PVEMock, root: Login, alice: Login, revoke: str) -> None:
    full = token(pve, root, "alice@pve", "ci", expire="2000000000")
    with httpx.Client(base_url=f"{pve.url}/api2/json", headers=root.headers) as api:
        if revoke == "delete user":
            assert api.delete("/access/users/alice@pve").status_code == 200
        elif revoke == "delete token":
            assert api.delete("/access/users/alice@pve/token/ci").status_code == 200
        elif revoke == "disable user":
            assert api.put("/access/users/alice@pve", data={"enable": "0"}).status_code == 200
        else:
            pve.control.advance(2_000_000_000 - pve.control.backend.mock.clock.now() + 1)
    assert attempt(pve, {"Authorization": f"PVEAPIToken={full}"}) == (AUTH_FAILED, b"")
