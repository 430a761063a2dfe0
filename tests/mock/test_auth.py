"""Authentication as pveproxy answers it: pve-manager PVE/HTTPServer.pm ``auth_handler`` (54-131) and
pve-http-server AnyEvent.pm (1573-1648); docs/WIRE.md section 5."""

from __future__ import annotations

from tests.mock.conftest import PVE, login


async def test_no_credentials_is_401_no_ticket_with_empty_body(anonymous: PVE) -> None:
    response = await anonymous.get("/version")
    assert response.status_code == 401
    assert response.content == b""
    assert "content-type" not in response.headers


async def test_open_routes_need_no_credentials(anonymous: PVE) -> None:
    assert (await anonymous.get("/access/domains")).status_code == 200
    assert (await anonymous.get("/access/ticket")).json() == {"data": None}


async def test_bad_password_is_authentication_failure(anonymous: PVE) -> None:
    response = await anonymous.post("/access/ticket", {"username": "root@pam", "password": "wrong"})
    assert response.status_code == 401
    assert response.json() == {"data": None, "message": "authentication failure\n"}


async def test_login_answers_ticket_csrf_and_capabilities(anonymous: PVE) -> None:
    data = await anonymous.data("POST", "/access/ticket", {"username": "root", "realm": "pam",
                                                           "password": "pvegateway"})
    assert data["username"] == "root@pam"
    assert data["ticket"].startswith("PVE:root@pam:") and "::" in data["ticket"]
    assert data["CSRFPreventionToken"][8] == ":"
    assert data["cap"]["vms"]["VM.Allocate"] == 1


async def test_forged_ticket_is_authentication_failed(anonymous: PVE) -> None:
    response = await anonymous.request("GET", "/version", headers={"Cookie": "PVEAuthCookie=PVE:root@pam:00000000::x"})
    assert response.status_code == 401
    assert response.content == b""


async def test_write_with_ticket_needs_csrf(pve: PVE) -> None:
    response = await pve.request("POST", "/pools", {"poolid": "x"}, headers={"CSRFPreventionToken": "nope"})
    assert response.status_code == 401


async def test_ticket_renewal_by_posting_the_ticket(anonymous: PVE) -> None:
    first = await anonymous.data("POST", "/access/ticket", {"username": "root@pam", "password": "pvegateway"})
    renewed = await anonymous.data("POST", "/access/ticket", {"username": "root@pam", "password": first["ticket"]})
    assert renewed["username"] == "root@pam"


async def test_tickets_survive_a_reset_of_the_cluster(pve: PVE) -> None:
    pve.backend.reset()
    assert (await pve.get("/version")).status_code == 200
    assert await login(pve.client)
