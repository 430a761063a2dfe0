"""Users, groups, roles, ACLs, domains and passwords as pve-access-control answers them."""

from __future__ import annotations

from tests.mock.conftest import PVE


async def test_access_index_and_domains(pve: PVE) -> None:
    index = await pve.data("GET", "/access")
    assert {"subdir": "users"} in index and {"subdir": "permissions"} in index
    realms = {d["realm"]: d for d in await pve.data("GET", "/access/domains")}
    assert realms["pam"]["type"] == "pam" and realms["pve"]["type"] == "pve"
    assert (await pve.data("GET", "/access/domains/pve"))["type"] == "pve"
    response = await pve.get("/access/domains/nope")
    assert response.status_code == 500
    assert response.json()["message"] == "domain 'nope' does not exist\n"


async def test_user_lifecycle(pve: PVE) -> None:
    await pve.data("POST", "/access/groups", {"groupid": "ops", "comment": "operators"})
    await pve.data("POST", "/access/users", {"userid": "alice@pve", "password": "secret-one", "email": "a@example.com",
                                             "firstname": "Alice", "groups": "ops"})
    user = await pve.data("GET", "/access/users/alice@pve")
    assert user["enable"] == 1 and user["email"] == "a@example.com" and user["groups"] == ["ops"]
    assert user["tokens"] == {}
    duplicate = await pve.post("/access/users", {"userid": "alice@pve"})
    assert duplicate.status_code == 500
    assert duplicate.json()["message"] == "create user failed: user 'alice@pve' already exists\n"
    await pve.data("POST", "/access/groups", {"groupid": "dev"})
    await pve.data("PUT", "/access/users/alice@pve", {"groups": "dev", "append": "1", "enable": "0"})
    user = await pve.data("GET", "/access/users/alice@pve")
    assert sorted(user["groups"]) == ["dev", "ops"] and user["enable"] == 0
    await pve.data("PUT", "/access/users/alice@pve", {"groups": "dev"})
    assert (await pve.data("GET", "/access/users/alice@pve"))["groups"] == ["dev"]
    listed = {u["userid"]: u for u in await pve.data("GET", "/access/users", {"full": "1"})}
    assert listed["alice@pve"]["groups"] == "dev" and listed["alice@pve"]["tokens"] == []
    enabled = [u["userid"] for u in await pve.data("GET", "/access/users", {"enabled": "1"})]
    assert "alice@pve" not in enabled and "root@pam" in enabled
    assert (await pve.data("GET", "/access/groups/dev"))["members"] == ["alice@pve"]
    await pve.data("DELETE", "/access/users/alice@pve")
    missing = await pve.get("/access/users/alice@pve")
    assert missing.status_code == 500
    assert missing.json()["message"] == "no such user ('alice@pve')\n"
    assert (await pve.data("GET", "/access/groups/dev"))["members"] == []


async def test_failed_user_create_changes_nothing(pve: PVE) -> None:
    response = await pve.post("/access/users", {"userid": "bob@pve", "groups": "ghosts"})
    assert response.status_code == 500
    assert response.json()["message"] == "create user failed: no such group 'ghosts'\n"
    assert "bob@pve" not in pve.backend.mock.cluster.users
    update = await pve.put("/access/users/nobody@pve", {"comment": "x"})
    assert update.json()["message"] == "update user failed: no such user ('nobody@pve')\n"


async def test_groups(pve: PVE) -> None:
    await pve.data("POST", "/access/groups", {"groupid": "admins", "comment": "a"})
    again = await pve.post("/access/groups", {"groupid": "admins"})
    assert again.json()["message"] == "create group failed: group 'admins' already exists\n"
    await pve.data("PUT", "/access/groups/admins", {"comment": "b"})
    assert await pve.data("GET", "/access/groups") == [{"groupid": "admins", "comment": "b"}]
    await pve.data("DELETE", "/access/groups/admins")
    gone = await pve.get("/access/groups/admins")
    assert gone.json()["message"] == "group 'admins' does not exist\n"


async def test_roles(pve: PVE) -> None:
    roles = {r["roleid"]: r for r in await pve.data("GET", "/access/roles")}
    assert {"PVEAuditor", "PVEVMUser", "PVETemplateUser", "PVEPoolUser", "PVEDatastoreUser", "PVESDNUser",
            "PVEMappingUser", "Administrator", "NoAccess", "PVEAdmin"} <= set(roles)
    assert roles["PVEVMUser"]["special"] == 1
    assert set(roles["PVETemplateUser"]["privs"].split(",")) == {"VM.Clone", "VM.Audit"}
    assert "Permissions.Modify" not in roles["PVEAdmin"]["privs"]
    await pve.data("POST", "/access/roles", {"roleid": "Ops", "privs": "VM.Audit,VM.PowerMgmt"})
    assert await pve.data("GET", "/access/roles/Ops") == {"VM.Audit": 1, "VM.PowerMgmt": 1}
    await pve.data("PUT", "/access/roles/Ops", {"privs": "VM.Console", "append": "1"})
    assert set(await pve.data("GET", "/access/roles/Ops")) == {"VM.Audit", "VM.PowerMgmt", "VM.Console"}
    await pve.data("PUT", "/access/roles/Ops", {"privs": "VM.Console"})
    assert await pve.data("GET", "/access/roles/Ops") == {"VM.Console": 1}
    builtin = await pve.put("/access/roles/PVEVMUser", {"privs": "VM.Audit"})
    assert builtin.status_code == 500
    assert (await pve.delete("/access/roles/Administrator")).status_code == 500
    await pve.data("DELETE", "/access/roles/Ops")
    assert (await pve.get("/access/roles/Ops")).json()["message"] == "role 'Ops' does not exist\n"


async def test_acl_add_list_delete(pve: PVE) -> None:
    await pve.data("POST", "/access/users", {"userid": "carol@pve"})
    await pve.data("POST", "/access/groups", {"groupid": "ops"})
    await pve.data("PUT", "/access/acl", {"path": "/vms/100", "roles": "PVEVMUser", "users": "carol@pve",
                                          "groups": "ops", "propagate": "0"})
    acl = await pve.data("GET", "/access/acl")
    assert {"path": "/vms/100", "type": "user", "ugid": "carol@pve", "roleid": "PVEVMUser", "propagate": 0} in acl
    assert {"path": "/vms/100", "type": "group", "ugid": "ops", "roleid": "PVEVMUser", "propagate": 0} in acl
    await pve.data("PUT", "/access/acl", {"path": "/vms/100", "roles": "PVEVMUser", "users": "carol@pve",
                                          "delete": "1"})
    assert [e["type"] for e in await pve.data("GET", "/access/acl")] == ["group"]
    await pve.data("PUT", "/access/acl", {"path": "/", "roles": "PVEAuditor", "users": "carol@pve"})
    await pve.data("DELETE", "/access/users/carol@pve")
    assert [e["ugid"] for e in await pve.data("GET", "/access/acl")] == ["ops"]


async def test_acl_errors_change_nothing(pve: PVE) -> None:
    bad_role = await pve.put("/access/acl", {"path": "/", "roles": "Nope", "users": "root@pam"})
    assert bad_role.json()["message"] == "ACL update failed: role 'Nope' does not exist\n"
    bad_user = await pve.put("/access/acl", {"path": "/", "roles": "PVEAuditor", "users": "ghost@pve"})
    assert bad_user.json()["message"] == "ACL update failed: user 'ghost@pve' does not exist\n"
    bad_group = await pve.put("/access/acl", {"path": "/", "roles": "PVEAuditor", "groups": "ghosts"})
    assert bad_group.json()["message"] == "ACL update failed: group 'ghosts' does not exist\n"
    assert await pve.data("GET", "/access/acl") == []


async def test_password_change(pve: PVE) -> None:
    await pve.data("POST", "/access/users", {"userid": "dave@pve", "password": "first-password"})
    await pve.data("PUT", "/access/password", {"userid": "dave@pve", "password": "second-password"})
    assert pve.backend.mock.cluster.users["dave@pve"].password == "second-password"
    login = await pve.client.post("/api2/json/access/ticket", data={"username": "dave@pve",
                                                                    "password": "second-password"})
    assert login.status_code == 200
