"""Worker tasks: list, status, log and stop like pve-manager's PVE/API2/Tasks.pm, with UPIDs as pve-common
src/PVE/UPID.pm writes them (docs/WIRE.md section 7)."""

from __future__ import annotations

from tests.mock.conftest import PVE


async def _allocate(pve: PVE, name: str = "vm-100-disk-9") -> str:
    await pve.data("POST", "/nodes/pve1/storage/local-lvm/content", {"vmid": 100, "filename": name, "size": "1G"})
    return str(await pve.data("DELETE", f"/nodes/pve1/storage/local-lvm/content/local-lvm:{name}"))


async def test_status_of_a_finished_task(pve: PVE) -> None:
    upid = await _allocate(pve)
    assert upid.startswith("UPID:pve1:") and upid.endswith(":root@pam:") and upid.count(":") == 8
    status = await pve.data("GET", f"/nodes/pve1/tasks/{upid}/status")
    assert status["status"] == "stopped" and status["exitstatus"] == "OK"
    assert status["type"] == "imgdel" and status["user"] == "root@pam" and status["upid"] == upid
    assert all(isinstance(status[k], int) for k in ("pid", "pstart", "starttime"))


async def test_bad_and_unknown_upids_are_param_errors(pve: PVE) -> None:
    response = await pve.get("/nodes/pve1/tasks/garbage/status")
    assert response.status_code == 400
    assert response.json()["errors"] == {"upid": "unable to parse worker upid"}
    missing = "UPID:pve1:00001234:00012345:67000000:qmstart:100:root@pam:"
    response = await pve.get(f"/nodes/pve1/tasks/{missing}/status")
    assert response.status_code == 400
    assert response.json()["errors"] == {"upid": "no such task"}


async def test_polls_progression_and_running_listing(pve: PVE) -> None:
    pve.backend.mock.tasks.progression = type(pve.backend.mock.tasks.progression).parse("polls:2")
    upid = await _allocate(pve)
    assert (await pve.data("GET", f"/nodes/pve1/tasks/{upid}/status"))["status"] == "running"
    listed = await pve.request("GET", "/nodes/pve1/tasks", {"source": "active"})
    assert [t["status"] for t in listed.json()["data"]] == ["RUNNING"]
    assert (await pve.get("/nodes/pve1/tasks")).json() == {"data": []}  # the archive has only finished ones
    # the volume is still there until the task stops
    assert await pve.data("GET", "/nodes/pve1/storage/local-lvm/content/vm-100-disk-9")
    done = await pve.data("GET", f"/nodes/pve1/tasks/{upid}/status")
    assert done["status"] == "stopped" and done["exitstatus"] == "OK"
    assert (await pve.get("/nodes/pve1/storage/local-lvm/content/vm-100-disk-9")).status_code == 500


async def test_stop_a_running_task(pve: PVE) -> None:
    pve.backend.mock.tasks.progression = type(pve.backend.mock.tasks.progression).parse("polls:5")
    upid = await _allocate(pve)
    assert await pve.data("DELETE", f"/nodes/pve1/tasks/{upid}") is None
    status = await pve.data("GET", f"/nodes/pve1/tasks/{upid}/status")
    assert status["exitstatus"] == "received interrupt"
    assert await pve.data("GET", "/nodes/pve1/storage/local-lvm/content/vm-100-disk-9")  # not deleted


async def test_list_filters_paging_and_total(pve: PVE) -> None:
    first = await _allocate(pve, "vm-100-disk-7")
    second = await _allocate(pve, "vm-100-disk-8")
    response = await pve.get("/nodes/pve1/tasks")
    body = response.json()
    assert [t["upid"] for t in body["data"]] == [second, first] and body["total"] == 2
    item = body["data"][0]
    assert item["status"] == "OK" and isinstance(item["endtime"], int) and item["node"] == "pve1"
    paged = (await pve.get("/nodes/pve1/tasks", {"start": 1, "limit": 1})).json()
    assert [t["upid"] for t in paged["data"]] == [first] and paged["total"] == 2
    assert (await pve.get("/nodes/pve1/tasks", {"typefilter": "qmstart"})).json() == {"data": []}
    assert (await pve.get("/nodes/pve1/tasks", {"errors": 1})).json() == {"data": []}
    assert (await pve.get("/nodes/pve1/tasks", {"statusfilter": "error"})).json() == {"data": []}
    assert len((await pve.get("/nodes/pve1/tasks", {"statusfilter": "ok,error"})).json()["data"]) == 2
    assert len((await pve.get("/nodes/pve1/tasks", {"userfilter": "ROOT"})).json()["data"]) == 2
    assert (await pve.get("/nodes/pve2/tasks")).json() == {"data": []}
    assert {t["upid"] for t in await pve.data("GET", "/cluster/tasks")} == {first, second}


async def test_log_lines_paging_and_total(pve: PVE) -> None:
    upid = await _allocate(pve)
    response = await pve.get(f"/nodes/pve1/tasks/{upid}/log")
    body = response.json()
    assert body["data"] == [{"n": 1, "t": "Removed volume 'local-lvm:vm-100-disk-9'"}, {"n": 2, "t": "TASK OK"}]
    assert body["total"] == 2
    tail = (await pve.get(f"/nodes/pve1/tasks/{upid}/log", {"start": 1, "limit": 0})).json()
    assert tail["data"] == [{"n": 2, "t": "TASK OK"}]
    assert await pve.data("GET", f"/nodes/pve1/tasks/{upid}") == [{"name": "log"}, {"name": "status"}]
