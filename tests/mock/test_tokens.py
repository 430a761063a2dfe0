"""API tokens: creation, authentication, privilege separation (pve-access-control AccessControl.pm
``verify_token`` and RPCEnvironment.pm; pve-manager PVE/HTTPServer.pm ``auth_handler``; docs/WIRE.md 5)."""

from __future__ import annotations

from tests.mock.conftest import PVE

STATUS = "/nodes/pve1/qemu/100/status/current"


def allowed(status: int) -> bool:
    """Past authentication and the permission check (what the guest handler then answers is not ours)."""
    return status not in (401, 403)


def as_token(pve: PVE, value: str, sep: str = "=") -> PVE:
    return PVE(pve.client, pve.app, {"Authorization": f"PVEAPIToken{sep}{value}"})


async def make_token(pve: PVE, name: str = "ci", **params: str) -> str:
    created = await pve.data("POST", f"/access/users/root@pam/token/{name}", params)
    assert created["full-tokenid"] == f"root@pam!{name}"
    assert len(created["value"]) == 36 and created["value"].count("-") == 4
    return f"root@pam!{name}={created['value']}"


async def test_create_returns_full_id_info_and_secret(pve: PVE) -> None:
    created = await pve.data("POST", "/access/users/root@pam/token/ci", {"comment": "pipeline"})
    assert set(created) == {"full-tokenid", "info", "value"}
    assert created["info"]["privsep"] == 1 and created["info"]["comment"] == "pipeline"
    assert await pve.data("GET", "/access/users/root@pam/token/ci") == created["info"]
    listed = await pve.data("GET", "/access/users/root@pam/token")
    assert listed == [{"tokenid": "ci", **created["info"]}]
    again = await pve.post("/access/users/root@pam/token/ci")
    assert again.status_code == 400
    assert again.json()["errors"] == {"tokenid": "Token already exists."}


async def test_update_regenerate_and_delete(pve: PVE) -> None:
    old = await make_token(pve)
    updated = await pve.data("PUT", "/access/users/root@pam/token/ci", {"privsep": "0", "comment": "x"})
    assert updated["privsep"] == 0 and updated["comment"] == "x"
    regenerated = await pve.data("PUT", "/access/users/root@pam/token/ci", {"regenerate": "1"})
    assert regenerated["full-tokenid"] == "root@pam!ci" and regenerated["value"] != old.rpartition("=")[2]
    assert (await as_token(pve, old).get("/version")).status_code == 401
    assert (await as_token(pve, f"root@pam!ci={regenerated['value']}").get("/version")).status_code == 200
    await pve.data("DELETE", "/access/users/root@pam/token/ci")
    missing = await pve.get("/access/users/root@pam/token/ci")
    assert missing.status_code == 500
    assert missing.json()["message"] == "no such token 'ci' for user 'root@pam'\n"


async def test_token_authenticates_with_equals_or_space(pve: PVE) -> None:
    value = await make_token(pve, privsep="0")
    assert (await as_token(pve, value).get("/version")).status_code == 200
    assert (await as_token(pve, value, " ").get("/version")).status_code == 200


async def test_pbs_colon_separator_is_refused(pve: PVE) -> None:
    value = await make_token(pve, privsep="0")
    response = await as_token(pve, value.replace("=", ":", 1).replace("=", ":")).get("/version")
    assert response.status_code == 401


async def test_privsep_token_without_acl_is_denied(pve: PVE) -> None:
    client = as_token(pve, await make_token(pve))
    response = await client.get(STATUS)
    assert response.status_code == 403
    assert response.json()["message"] == "Permission check failed (/vms/100, VM.Audit)\n"


async def test_privsep_token_gets_its_own_acl(pve: PVE) -> None:
    client = as_token(pve, await make_token(pve))
    await pve.data("PUT", "/access/acl", {"path": "/vms/100", "roles": "PVEAuditor", "tokens": "root@pam!ci"})
    assert allowed((await client.get(STATUS)).status_code)
    assert (await client.get("/nodes/pve1/qemu/101/status/current")).status_code == 403


async def test_non_privsep_token_works_like_its_user(pve: PVE) -> None:
    client = as_token(pve, await make_token(pve, privsep="0"))
    assert allowed((await client.get(STATUS)).status_code)


async def test_ticket_login_with_token_is_refused(pve: PVE) -> None:
    client = as_token(pve, await make_token(pve, privsep="0"))
    response = await client.post("/access/ticket", {"username": "root@pam", "password": "pvegateway"})
    assert response.status_code == 403
    assert response.json()["message"] == ("Permission check failed (URI '/access/ticket' not available with "
                                          "API token, need proper ticket.\n)\n")


async def test_token_refusal_on_ticket_login_comes_before_validation(pve: PVE) -> None:
    client = as_token(pve, await make_token(pve, privsep="0"))
    response = await client.post("/access/ticket", {"username": "root@pam"})  # password missing
    assert response.status_code == 403  # PVE checks allowtoken before the schema


async def test_an_unknown_token_on_an_open_route_is_simply_anonymous(anonymous: PVE) -> None:
    response = await anonymous.request("GET", "/access/domains", headers={"Authorization": "PVEAPIToken=x@pve!y=z"})
    assert response.status_code == 200


async def test_deleting_a_user_removes_its_tokens_and_their_acl(pve: PVE) -> None:
    await pve.data("POST", "/access/users", {"userid": "ci@pve"})
    created = await pve.data("POST", "/access/users/ci@pve/token/bot")
    await pve.data("PUT", "/access/acl", {"path": "/", "roles": "PVEAuditor", "tokens": "ci@pve!bot"})
    await pve.data("DELETE", "/access/users/ci@pve")
    assert await pve.data("GET", "/access/acl") == []
    assert (await as_token(pve, f"ci@pve!bot={created['value']}").get("/version")).status_code == 401


async def test_guest_list_of_a_root_token_follows_its_privilege_separation(pve: PVE) -> None:
    """qemu-server Qemu.pm:1113 lists only guests with VM.Audit; a separated root token holds only its
    own ACL (pve-access-control RPCEnvironment.pm), an unseparated one all of root's."""
    await pve.data("POST", "/nodes/pve1/qemu", {"vmid": "130", "memory": "512"})
    whole = {g["vmid"] for g in await pve.data("GET", "/nodes/pve1/qemu")}
    assert whole >= {100, 130}
    separated = as_token(pve, await make_token(pve))
    assert (await separated.get("/nodes/pve1/qemu")).json()["data"] == []
    await pve.data("PUT", "/access/acl", {"path": "/vms/100", "roles": "PVEAuditor", "tokens": "root@pam!ci"})
    assert [g["vmid"] for g in (await separated.get("/nodes/pve1/qemu")).json()["data"]] == [100]
    await pve.data("PUT", "/access/users/root@pam/token/ci", {"privsep": "0"})
    assert {g["vmid"] for g in (await separated.get("/nodes/pve1/qemu")).json()["data"]} == whole


async def test_a_token_used_before_is_refused_once_revoked(pve: PVE) -> None:
    """The mock remembers a token value it verified: every later use still checks the token and its
    user (AccessControl.pm verify_token: the token exists, is not expired, its user enabled)."""
    value = await make_token(pve, privsep="0")
    caller = as_token(pve, value)
    assert (await caller.get("/version")).status_code == 200  # verified and remembered
    regenerated = await pve.data("PUT", "/access/users/root@pam/token/ci", {"regenerate": "1"})
    assert (await caller.get("/version")).status_code == 401
    value = f"root@pam!ci={regenerated['value']}"
    caller = as_token(pve, value)
    assert (await caller.get("/version")).status_code == 200
    await pve.data("PUT", "/access/users/root@pam/token/ci", {"expire": "1000"})  # long past
    assert (await caller.get("/version")).status_code == 401
    await pve.data("PUT", "/access/users/root@pam/token/ci", {"expire": "0"})
    assert (await caller.get("/version")).status_code == 200
    await pve.data("DELETE", "/access/users/root@pam/token/ci")
    assert (await caller.get("/version")).status_code == 401
    await pve.data("POST", "/access/users", {"userid": "ci@pve"})
    created = await pve.data("POST", "/access/users/ci@pve/token/tk", {"privsep": "0"})
    user_token = as_token(pve, f"ci@pve!tk={created['value']}")
    assert (await user_token.get("/version")).status_code == 200
    await pve.data("PUT", "/access/users/ci@pve", {"enable": "0"})
    assert (await user_token.get("/version")).status_code == 401


async def test_separating_a_root_tokens_privileges_takes_effect_at_once(pve: PVE) -> None:
    """A root token without privilege separation holds what root holds; once ``privsep`` is set it
    holds only its own ACL, from the next request on (pve-access-control src/PVE/RPCEnvironment.pm:
    136-161 permissions reads the token's privsep on every check)."""
    client = as_token(pve, await make_token(pve, privsep="0"))
    assert allowed((await client.get(STATUS)).status_code)
    await pve.data("PUT", "/access/users/root@pam/token/ci", {"privsep": "1"})
    response = await client.get(STATUS)
    assert response.status_code == 403
    assert response.json()["message"] == "Permission check failed (/vms/100, VM.Audit)\n"
