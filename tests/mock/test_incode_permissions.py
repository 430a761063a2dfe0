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
