"""PVE's permission checks beyond the schema's ``permissions`` object, pinned to PVE's sources.

Each test logs in a user made through the API with just the rights the case needs and expects PVE's
answer: the status and the exact text of its ``raise_perm_exc`` (pve-common src/PVE/Exception.pm:53).
"""

from __future__ import annotations

from tests.mock.conftest import PVE
from tests.mock.test_permissions import user_client

DENIED = {"data": None, "message": "Permission check failed\n"}


def denied(detail: str) -> dict[str, str | None]:
    return {"data": None, "message": f"Permission check failed ({detail})\n"}


async def grant(pve: PVE, path: str, role: str, userid: str) -> None:
    await pve.data("PUT", "/access/acl", {"path": path, "roles": role, "users": userid})


# --- the schema's check expressions (pve-access-control src/PVE/RPCEnvironment.pm exec_api2_perm_check) --


async def test_clone_without_a_pool_needs_vm_allocate_on_the_new_id(pve: PVE) -> None:
    # RPCEnvironment.pm:483-487: a 'perm' with require_param FAILS when the parameter is missing, so the
    # pool branch of clone's ['or', /vms/{newid}, /pool/{pool} require_param pool] cannot pass without pool
    await pve.data("POST", "/access/roles", {"roleid": "CloneOnly", "privs": "VM.Clone,VM.Audit"})
    cl = await user_client(pve, "cl@pve", "clpassword1")
    await grant(pve, "/vms/101", "CloneOnly", "cl@pve")
    response = await cl.post("/nodes/pve2/qemu/101/clone", {"newid": "777"})
    assert response.status_code == 403
    assert response.json() == DENIED  # RPCEnvironment.pm:478: the 'or' raises without a detail
    assert 777 not in pve.backend.mock.cluster.guests


async def test_clone_into_a_pool_the_user_may_allocate_in_passes(pve: PVE) -> None:
    await pve.data("POST", "/access/roles", {"roleid": "CloneOnly", "privs": "VM.Clone,VM.Audit"})
    await pve.data("POST", "/pools", {"poolid": "lab"})
    cl = await user_client(pve, "cl@pve", "clpassword1")
    await grant(pve, "/vms/101", "CloneOnly", "cl@pve")
    await grant(pve, "/pool/lab", "PVEVMAdmin", "cl@pve")
    upid = await cl.data("POST", "/nodes/pve2/qemu/101/clone", {"newid": "777", "pool": "lab"})
    assert ":qmclone:101:cl@pve:" in upid


async def test_group_limited_user_admin_cannot_create_a_user_without_groups(pve: PVE) -> None:
    # RPCEnvironment.pm:507: with groups_param and no 'groups', a caller without User.Modify on
    # /access/groups is refused "/access/groups, User.Modify" (the user would land outside their groups)
    await pve.data("POST", "/access/groups", {"groupid": "g1"})
    ua = await user_client(pve, "ua@pve", "uapassword1")
    await grant(pve, "/access/realm/pve", "PVEUserAdmin", "ua@pve")
    await grant(pve, "/access/groups/g1", "PVEUserAdmin", "ua@pve")
    response = await ua.post("/access/users", {"userid": "loose@pve", "password": "loosepassword1"})
    assert response.status_code == 403
    assert response.json() == denied("/access/groups, User.Modify")
    assert "loose@pve" not in pve.backend.mock.cluster.users
    await ua.data("POST", "/access/users", {"userid": "member@pve", "groups": "g1"})
    assert pve.backend.mock.cluster.users["member@pve"].groups == ["g1"]


# --- PUT /access/password (pve-access-control src/PVE/API2/AccessControl.pm change_password) ------------


async def user_admin(pve: PVE) -> PVE:
    ua = await user_client(pve, "ua@pve", "uapassword1")
    await grant(pve, "/access", "PVEUserAdmin", "ua@pve")
    return ua


async def test_user_admin_cannot_take_over_root(pve: PVE) -> None:
    ua = await user_admin(pve)
    response = await ua.put("/access/password", {"userid": "root@pam", "password": "pwned-root-1",
                                                 "confirmation-password": "uapassword1"})
    # RPCEnvironment.pm:665 reauth_user_for_user_modification: root@pam is modified by root@pam only
    assert response.status_code == 403
    assert response.json() == DENIED
    refused = await pve.client.post("/api2/json/access/ticket", data={"username": "root@pam",
                                                                      "password": "pwned-root-1"})
    assert refused.status_code == 401
    assert pve.backend.mock.cluster.users["root@pam"].password == "pvegateway"


async def test_user_admin_must_confirm_with_their_own_password(pve: PVE) -> None:
    ua = await user_admin(pve)
    await pve.data("POST", "/access/users", {"userid": "eve@pve", "password": "eve-password"})
    missing = await ua.put("/access/password", {"userid": "eve@pve", "password": "new-password-1"})
    # RPCEnvironment.pm:669: every caller but root@pam gives their current password
    assert missing.status_code == 400
    assert missing.json()["errors"] == {"confirmation-password": "password is required to modify user"}
    wrong = await ua.put("/access/password", {"userid": "eve@pve", "password": "new-password-1",
                                              "confirmation-password": "not-mine-1"})
    assert (wrong.status_code, wrong.json()["message"]) == (500, "invalid credentials\n")  # Auth/PVE.pm:83
    assert pve.backend.mock.cluster.users["eve@pve"].password == "eve-password"
    await ua.data("PUT", "/access/password", {"userid": "eve@pve", "password": "new-password-1",
                                              "confirmation-password": "uapassword1"})
    assert pve.backend.mock.cluster.users["eve@pve"].password == "new-password-1"


async def test_user_admin_cannot_change_a_pam_users_password(pve: PVE) -> None:
    ua = await user_admin(pve)
    await pve.data("POST", "/access/users", {"userid": "bob@pam", "password": "bob-password"})
    response = await ua.put("/access/password", {"userid": "bob@pam", "password": "new-password-1",
                                                 "confirmation-password": "uapassword1"})
    assert response.status_code == 403  # AccessControl.pm:463: system users only by root or themselves
    assert response.json() == DENIED
    assert pve.backend.mock.cluster.users["bob@pam"].password == "bob-password"


# --- PUT /pools (pve-manager PVE/API2/Pool.pm update_pool) ---------------------------------------------


async def pool_admin(pve: PVE) -> PVE:
    await pve.data("POST", "/pools", {"poolid": "p1"})
    pa = await user_client(pve, "pa@pve", "papassword1")
    await grant(pve, "/pool/p1", "PVEAdmin", "pa@pve")
    return pa


async def test_pool_admin_cannot_pull_a_foreign_vm_into_the_pool(pve: PVE) -> None:
    pa = await pool_admin(pve)
    # Pool.pm:333 check_perm_modify on /vms/100 (RPCEnvironment.pm:442: Permissions.Modify or VM.Allocate),
    # raised inside lock_user_config (AccessControl.pm:91), so PVE answers the lock's plain 500
    expected = "update pools failed: 403 Permission check failed (/vms/100, Permissions.Modify|VM.Allocate)\n"
    for path, data in (("/pools/p1", {"vms": "100"}), ("/pools", {"poolid": "p1", "vms": "100"})):
        response = await pa.put(path, data)
        assert (response.status_code, response.json()["message"]) == (500, expected)
    assert pve.backend.mock.cluster.pools["p1"].vmids == []
    stop = await pa.post("/nodes/pve1/qemu/100/status/stop", {})
    assert stop.status_code == 403  # no rights were inherited through the pool
    assert pve.backend.mock.cluster.guests[100].status == "running"


async def test_pool_admin_cannot_pull_a_foreign_storage_into_the_pool(pve: PVE) -> None:
    pa = await pool_admin(pve)
    response = await pa.put("/pools/p1", {"storage": "local"})
    expected = ("update pools failed: 403 Permission check failed "
                "(/storage/local, Permissions.Modify|Datastore.Allocate)\n")
    assert (response.status_code, response.json()["message"]) == (500, expected)  # Pool.pm:361
    assert pve.backend.mock.cluster.pools["p1"].storages == []


async def test_pool_admin_adds_a_vm_they_may_allocate(pve: PVE) -> None:
    pa = await pool_admin(pve)
    await grant(pve, "/vms/101", "PVEVMAdmin", "pa@pve")
    await pa.data("PUT", "/pools/p1", {"vms": "101"})
    assert pve.backend.mock.cluster.pools["p1"].vmids == [101]
