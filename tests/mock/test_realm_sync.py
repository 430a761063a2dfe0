"""Realm sync as pve-access-control src/PVE/API2/Domains.pm:505-603 does it: LDAP/AD realms only, a scope from
the call or the realm's defaults, a task of type auth-realm-sync (-test for a dry run) with PVE's log."""

from __future__ import annotations

from urllib.parse import quote

from tests.mock.conftest import PVE

LDAP = {"realm": "corp", "type": "ldap", "base_dn": "dc=example,dc=com", "user_attr": "uid",
        "server1": "ldap.example.com"}


async def _log(pve: PVE, upid: str) -> list[str]:
    path = f"/nodes/{upid.split(':')[1]}/tasks/{quote(upid, safe='')}"
    status = await pve.data("GET", path + "/status")
    assert status["status"] == "stopped" and status["exitstatus"] == "OK", status
    return [line["t"] for line in await pve.data("GET", path + "/log")]


async def test_only_ldap_and_ad_realms_sync_and_a_scope_is_needed(pve: PVE) -> None:
    missing = await pve.post("/access/domains/nope/sync", {"scope": "users"})
    assert (missing.status_code, missing.json()["errors"]) == (400, {"realm": "Realm does not exist."})  # :553
    pam = await pve.post("/access/domains/pam/sync", {"scope": "users"})
    assert pam.json()["message"] == "Cannot sync realm type 'pam'! Only LDAP/AD realms can be synced.\n"  # :556
    await pve.data("POST", "/access/domains", LDAP)
    unscoped = await pve.post("/access/domains/corp/sync")
    assert unscoped.json()["errors"] == {  # :496-499
        "scope": "Not passed as parameter and not defined in realm default sync options."}
    assert await pve.data("GET", "/cluster/tasks") == []  # no task was started for a refusal


async def test_a_sync_is_a_task_whose_log_says_what_it_did(pve: PVE) -> None:
    await pve.data("POST", "/access/domains", {**LDAP, "sync-defaults-options": "scope=both,remove-vanished=acl"})
    await pve.data("POST", "/access/users", {"userid": "alice@corp"})
    await pve.data("POST", "/access/groups", {"groupid": "admins-corp"})
    dry = await pve.data("POST", "/access/domains/corp/sync", {"dry-run": "1", "scope": "users"})
    assert dry.split(":")[5:7] == ["auth-realm-sync-test", "corp"]  # :601-602
    assert await _log(pve, dry) == [
        "(dry test run) starting sync for realm corp", "got data from server, updating users",
        "syncing users (remove-vanished opts: acl)", "updating user 'alice@corp'", "",
        "NOTE: Dry test run, changes were NOT written to the configuration.", "TASK OK"]
    real = await pve.data("POST", "/access/domains/corp/sync")  # the realm's defaults: both
    assert real.split(":")[5:7] == ["auth-realm-sync", "corp"]
    log = await _log(pve, real)
    assert log[1] == "got data from server, updating users and groups"
    assert "updating group 'admins-corp'" in log and log[-2] == "successfully updated users and groups configuration"
