"""Permissions end to end: users made through the API, logged in, allowed or refused by their ACLs."""

from __future__ import annotations

from tests.mock.conftest import PVE, login
from tests.mock.test_tokens import allowed

STATUS = "/nodes/pve1/qemu/100/status/current"


async def user_client(pve: PVE, userid: str = "eve@pve", password: str = "eve-password", **extra: str) -> PVE:
    await pve.data("POST", "/access/users", {"userid": userid, "password": password, **extra})
    return PVE(pve.client, pve.app, await login(pve.client, userid, password))


async def test_user_without_acl_is_refused_with_pve_text(pve: PVE) -> None:
    eve = await user_client(pve)
    response = await eve.get(STATUS)
    assert response.status_code == 403
    assert response.json() == {"data": None, "message": "Permission check failed (/vms/100, VM.Audit)\n"}


async def test_acl_on_the_vm_allows_that_vm_only(pve: PVE) -> None:
    eve = await user_client(pve)
    await pve.data("PUT", "/access/acl", {"path": "/vms/100", "roles": "PVEAuditor", "users": "eve@pve"})
    assert allowed((await eve.get(STATUS)).status_code)
    assert (await eve.get("/nodes/pve2/qemu/101/status/current")).status_code == 403


async def test_propagation_from_a_parent_path(pve: PVE) -> None:
    eve = await user_client(pve)
    await pve.data("PUT", "/access/acl", {"path": "/vms", "roles": "PVEVMUser", "users": "eve@pve",
                                          "propagate": "0"})
    assert (await eve.get(STATUS)).status_code == 403
    await pve.data("PUT", "/access/acl", {"path": "/vms", "roles": "PVEVMUser", "users": "eve@pve"})
    assert allowed((await eve.get(STATUS)).status_code)


async def test_group_membership_grants_and_noaccess_overrides(pve: PVE) -> None:
    await pve.data("POST", "/access/groups", {"groupid": "auditors"})
    eve = await user_client(pve, groups="auditors")
    await pve.data("PUT", "/access/acl", {"path": "/", "roles": "PVEAuditor", "groups": "auditors"})
    assert allowed((await eve.get(STATUS)).status_code)
    await pve.data("PUT", "/access/acl", {"path": "/vms/100", "roles": "NoAccess", "users": "eve@pve"})
    assert (await eve.get(STATUS)).status_code == 403


async def test_pool_acl_reaches_pool_members(pve: PVE) -> None:
    eve = await user_client(pve)
    await pve.data("POST", "/pools", {"poolid": "web"})
    await pve.data("PUT", "/pools/web", {"vms": "100"})
    await pve.data("PUT", "/access/acl", {"path": "/pool/web", "roles": "PVEAuditor", "users": "eve@pve"})
    assert allowed((await eve.get(STATUS)).status_code)
    assert [p["poolid"] for p in await eve.data("GET", "/pools")] == ["web"]


async def test_clustername_and_capabilities_follow_sys_audit(pve: PVE) -> None:
    await pve.data("POST", "/access/users", {"userid": "frank@pve", "password": "frank-password"})
    plain = await pve.client.post("/api2/json/access/ticket", data={"username": "frank@pve",
                                                                    "password": "frank-password"})
    assert "clustername" not in plain.json()["data"]
    assert plain.json()["data"]["cap"]["vms"] == {}
    await pve.data("PUT", "/access/acl", {"path": "/", "roles": "PVEAuditor", "users": "frank@pve"})
    audited = await pve.client.post("/api2/json/access/ticket", data={"username": "frank", "realm": "pve",
                                                                      "password": "frank-password"})
    assert audited.json()["data"]["clustername"] == "pvegw"
    assert audited.json()["data"]["cap"]["vms"]["VM.Audit"] == 1


async def test_user_management_needs_privileges(pve: PVE) -> None:
    eve = await user_client(pve)
    response = await eve.post("/access/users", {"userid": "mallory@pve"})
    assert response.status_code == 403
    assert response.json()["message"] == "Permission check failed (/access/realm/pve, Realm.AllocateUser)\n"
    assert (await eve.post("/access/groups", {"groupid": "x"})).json()["message"] == (
        "Permission check failed (/access/groups, Group.Allocate)\n")
    assert [u["userid"] for u in await eve.data("GET", "/access/users")] == ["eve@pve"]
    assert await eve.data("GET", "/access/acl") == []


async def test_own_password_needs_the_current_one(pve: PVE) -> None:
    eve = await user_client(pve)
    wrong = await eve.put("/access/password", {"userid": "eve@pve", "password": "new-password-1",
                                               "confirmation-password": "wrong-one"})
    # pve-access-control RPCEnvironment.pm:679 asks the realm; Auth/PVE.pm:83 dies (a plain 500)
    assert (wrong.status_code, wrong.json()["message"]) == (500, "invalid credentials\n")
    await eve.data("PUT", "/access/password", {"userid": "eve@pve", "password": "new-password-1",
                                               "confirmation-password": "eve-password"})
    assert await login(pve.client, "eve@pve", "new-password-1")
    other = await eve.put("/access/password", {"userid": "root@pam", "password": "hijacked-1"})
    assert other.status_code == 403


async def test_permissions_dump(pve: PVE) -> None:
    eve = await user_client(pve)
    await pve.data("PUT", "/access/acl", {"path": "/vms/100", "roles": "PVETemplateUser", "users": "eve@pve"})
    mine = await eve.data("GET", "/access/permissions")
    assert mine == {"/vms/100": {"VM.Audit": 1, "VM.Clone": 1}}
    assert await eve.data("GET", "/access/permissions", {"path": "/vms/101"}) == {"/vms/101": {}}
    by_root = await pve.data("GET", "/access/permissions", {"userid": "eve@pve", "path": "/vms/100"})
    assert by_root == {"/vms/100": {"VM.Audit": 1, "VM.Clone": 1}}
    assert "Permissions.Modify" in (await pve.data("GET", "/access/permissions", {"path": "/"}))["/"]
