"""vzdump for a user who may back up some guests only (pve-manager PVE/VZDump.pm:1413-1428): the job's
list is made first; with ``all`` the others are left out, else the task fails before any backup."""

from __future__ import annotations

from urllib.parse import quote

from tests.mock.conftest import PVE, login


async def _status(pve: PVE, upid: str) -> dict[str, str]:
    status: dict[str, str] = await pve.data("GET", f"/nodes/pve1/tasks/{quote(upid, safe='')}/status")
    return status


async def test_a_guest_the_user_may_not_back_up_fails_the_job_or_is_left_out_of_all(pve: PVE) -> None:
    await pve.data("POST", "/access/users", {"userid": "ops@pve", "password": "ops-secret"})
    await pve.data("PUT", "/access/acl", {"path": "/storage/local", "users": "ops@pve", "roles": "PVEDatastoreUser"})
    await pve.data("PUT", "/access/acl", {"path": "/vms/200", "users": "ops@pve", "roles": "PVEVMAdmin"})
    ops = PVE(pve.client, pve.app, await login(pve.client, "ops@pve", "ops-secret"))
    listed = await ops.data("POST", "/nodes/pve1/vzdump", {"vmid": "100,200", "storage": "local"})
    assert (await _status(pve, listed))["exitstatus"] == "Permission check failed (/vms/100, VM.Backup)"
    backups = "/nodes/pve1/storage/local/content"
    assert await pve.data("GET", backups, {"content": "backup"}) == []  # none was written
    everything = await ops.data("POST", "/nodes/pve1/vzdump", {"all": "1", "storage": "local"})
    assert (await _status(pve, everything))["exitstatus"] == "OK"
    assert [b["vmid"] for b in await pve.data("GET", backups, {"content": "backup"})] == [200]
