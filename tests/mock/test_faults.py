"""Fault injection through the control API (``/_gateway/faults``, nodes, storages): failing calls,
failing tasks, latency, a node offline, a full storage; in the dump, gone after a reset."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from pvegateway.backends.mock.backend import MockOptions
from tests.mock.conftest import PVE, login, mock_app

CONTROL_KEY = "f4ult-control-key-0d1e2c3b"
KEY = {"Authorization": f"Bearer {CONTROL_KEY}"}
START = "/nodes/pve2/qemu/101/status/start"


@pytest.fixture
async def ctl() -> AsyncIterator[PVE]:
    app = mock_app(MockOptions(secret=b"test-secret", control_key=CONTROL_KEY))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://pve1:8006") as client:
        yield PVE(client, app, await login(client))


async def inject(ctl: PVE, **spec: Any) -> dict[str, Any]:
    answer = await ctl.client.post("/_gateway/faults", json=spec, headers=KEY)
    assert answer.status_code == 200, answer.text
    fault: dict[str, Any] = answer.json()["fault"]
    return fault


async def task_end(ctl: PVE, upid: str) -> tuple[dict[str, Any], list[str]]:
    node = upid.split(":")[1]
    status = await ctl.data("GET", f"/nodes/{node}/tasks/{upid}/status")
    log = await ctl.data("GET", f"/nodes/{node}/tasks/{upid}/log")
    return status, [line["t"] for line in log]


async def test_a_call_fails_the_given_number_of_times_in_pves_envelope(ctl: PVE) -> None:
    await inject(ctl, operation="POST /nodes/{node}/qemu/{vmid}/status/start", times=2, status=500,
                 message="VM 101 qmp command 'cont' failed - got timeout")
    for _ in range(2):
        failed = await ctl.post(START)
        assert failed.status_code == 500
        # PVE's die text ends with a newline, shown in the envelope (pve-http-server Formatter/JSON)
        assert failed.json() == {"data": None, "message": "VM 101 qmp command 'cont' failed - got timeout\n"}
    assert (await ctl.post(START)).status_code == 200  # the third call goes through
    assert ctl.backend.mock.cluster.guests[101].status == "running"
    listed = (await ctl.client.get("/_gateway/faults", headers=KEY)).json()["faults"]
    assert [(f["hits"], f["times"]) for f in listed] == [(2, 0)]


async def test_faults_match_by_operation_id_node_and_vmid(ctl: PVE) -> None:
    await inject(ctl, operation="get_nodes_node_qemu_vmid_status_current", vmid=100, message="boom")
    await inject(ctl, node="pve3", status=503, message="pve3 is busy")
    assert (await ctl.get("/nodes/pve1/qemu/100/status/current")).status_code == 500
    assert (await ctl.get("/nodes/pve2/qemu/101/status/current")).status_code == 200  # another guest
    assert (await ctl.get("/nodes/pve1/qemu/100/config")).status_code == 200  # another operation
    busy = await ctl.get("/nodes/pve3/status")  # any operation on pve3
    assert (busy.status_code, busy.json()["message"]) == (503, "pve3 is busy\n")
    assert (await ctl.get("/nodes/pve2/status")).status_code == 200


async def test_a_parameter_error_with_its_errors_map(ctl: PVE) -> None:
    await inject(ctl, operation="POST /nodes/{node}/qemu", errors={"vmid": "VM 150 already exists"})
    answer = await ctl.post("/nodes/pve1/qemu", {"vmid": 150})
    assert answer.status_code == 400
    # pve-common src/PVE/JSONSchema.pm:1698, :1718: raise_param_exc's text and map
    assert answer.json() == {"data": None, "message": "Parameter verification failed.\n",
                             "errors": {"vmid": "VM 150 already exists"}}
    assert 150 not in ctl.backend.mock.cluster.guests


async def test_a_task_ends_with_the_given_error_and_changes_nothing(ctl: PVE) -> None:
    await inject(ctl, kind="task", operation="POST /nodes/{node}/qemu/{vmid}/status/start", vmid=101,
                 message="start failed: QEMU exited with code 1")
    answer = await ctl.post(START)
    assert answer.status_code == 200 and answer.json()["data"].startswith("UPID:pve2:")
    status, log = await task_end(ctl, answer.json()["data"])
    assert status["status"] == "stopped" and status["exitstatus"] == "start failed: QEMU exited with code 1"
    assert log[-1] == "TASK ERROR: start failed: QEMU exited with code 1"
    assert ctl.backend.mock.cluster.guests[101].status == "stopped"


async def test_a_failed_create_task_leaves_no_guest(ctl: PVE) -> None:
    await inject(ctl, kind="task", operation="POST /nodes/{node}/qemu", message="unable to create VM 150")
    answer = await ctl.post("/nodes/pve1/qemu", {"vmid": 150, "scsi0": "local-lvm:4"})
    status, _ = await task_end(ctl, answer.json()["data"])
    assert status["exitstatus"] == "unable to create VM 150"
    assert 150 not in ctl.backend.mock.cluster.guests
    volumes = await ctl.data("GET", "/nodes/pve1/storage/local-lvm/content")
    assert not [v for v in volumes if v.get("vmid") == 150]


async def test_latency_holds_one_answer_and_no_other(ctl: PVE) -> None:
    await inject(ctl, kind="latency", operation="GET /version", seconds=1)
    started = time.monotonic()
    slow = asyncio.create_task(ctl.get("/version"))
    fast = await ctl.get("/nodes")
    assert fast.status_code == 200 and not slow.done()
    assert (await slow).status_code == 200
    assert time.monotonic() - started >= 1


async def test_bad_fault_descriptions_are_refused(ctl: PVE) -> None:
    for spec in ({"operation": "GET /nope", "message": "x"}, {"kind": "task", "operation": "GET /nodes",
                                                               "message": "x"},
                 {"message": "x", "status": 200}, {"kind": "latency", "seconds": 0}, {"typo": 1},
                 {"kind": "error"}, {"message": "x", "times": 0}):
        answer = await ctl.client.post("/_gateway/faults", json=spec, headers=KEY)
        assert answer.status_code == 400, spec
    assert (await ctl.client.get("/_gateway/faults", headers=KEY)).json() == {"faults": []}


async def test_the_control_apis_key_guards_the_faults(ctl: PVE) -> None:
    assert (await ctl.client.post("/_gateway/faults", json={"message": "x"})).status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert (await ctl.client.put("/_gateway/nodes/pve2", json={"online": False}, headers=wrong)).status_code == 403
    assert ctl.backend.mock.cluster.nodes["pve2"].online and not ctl.backend.mock.cluster.faults


async def test_faults_are_in_the_dump_and_gone_after_a_reset(ctl: PVE) -> None:
    fault = await inject(ctl, message="boom", times=3)
    await ctl.client.put("/_gateway/nodes/pve3", json={"online": False}, headers=KEY)
    await ctl.client.put("/_gateway/storages/local-lvm", json={"full": True}, headers=KEY)
    state = (await ctl.client.get("/_gateway/state", headers=KEY)).json()
    assert [f["id"] for f in state["faults"]] == [fault["id"]]
    assert [n["online"] for n in state["nodes"]] == [True, True, False]
    assert [s["full"] for s in state["storages"]] == [False, True]
    await ctl.client.post("/_gateway/reset", headers=KEY)
    assert (await ctl.get("/version")).status_code == 200
    state = (await ctl.client.get("/_gateway/state", headers=KEY)).json()
    assert state["faults"] == [] and all(n["online"] for n in state["nodes"])
    assert not any(s["full"] for s in state["storages"])


async def test_removing_one_fault_or_all(ctl: PVE) -> None:
    first = await inject(ctl, operation="GET /version", message="one")
    await inject(ctl, operation="GET /nodes", message="two")
    assert (await ctl.client.delete(f"/_gateway/faults/{first['id']}", headers=KEY)).json()["removed"] == 1
    assert (await ctl.client.delete(f"/_gateway/faults/{first['id']}", headers=KEY)).status_code == 404
    assert (await ctl.get("/version")).status_code == 200 and (await ctl.get("/nodes")).status_code == 500
    assert (await ctl.client.delete("/_gateway/faults", headers=KEY)).json()["removed"] == 1
    assert (await ctl.get("/nodes")).status_code == 200


async def test_a_node_offline_as_the_cluster_sees_it(ctl: PVE) -> None:
    answer = await ctl.client.put("/_gateway/nodes/pve2", json={"online": False}, headers=KEY)
    assert answer.json() == {"ok": True, "online": False}
    nodes = {n["node"]: n for n in await ctl.data("GET", "/nodes")}
    assert nodes["pve2"]["status"] == "offline" and "uptime" not in nodes["pve2"]  # API2Tools.pm:70-76
    status = {e["id"]: e for e in await ctl.data("GET", "/cluster/status")}
    assert status["node/pve2"]["online"] == 0 and status["cluster"]["quorate"] == 1
    resources = {e["id"]: e for e in await ctl.data("GET", "/cluster/resources")}
    assert resources["node/pve2"]["status"] == "offline"
    # pve-manager PVE/API2Tools.pm:84-91: a guest the node reports nothing of is 'unknown', no figures
    assert resources["qemu/101"] == {"id": "qemu/101", "type": "qemu", "vmid": 101, "node": "pve2",
                                     "status": "unknown"}
    assert resources["qemu/100"]["status"] == "running"
    # calls proxied to the node fail as pveproxy's proxy_request does (no body, the errno as reason)
    offline = await ctl.get("/nodes/pve2/qemu/101/status/current")
    assert (offline.status_code, offline.content) == (595, b"")
    assert (await ctl.get("/nodes/pve1/qemu/100/status/current")).status_code == 200
    await ctl.client.put("/_gateway/nodes/pve2", json={"online": True}, headers=KEY)
    assert (await ctl.get("/nodes/pve2/qemu/101/status/current")).status_code == 200
    unknown = await ctl.client.put("/_gateway/nodes/pve9", json={"online": False}, headers=KEY)
    assert unknown.status_code == 400


async def test_a_full_storage_has_nothing_available_and_new_disks_fail(ctl: PVE) -> None:
    await ctl.client.put("/_gateway/storages/local-lvm", json={"full": True}, headers=KEY)
    figures = await ctl.data("GET", "/nodes/pve1/storage/local-lvm/status")
    assert figures["avail"] == 0 and figures["used"] == figures["total"]
    # a new disk in the create worker: lvcreate on the thin pool fails (pve-storage
    # src/PVE/Storage/LvmThinPlugin.pm:127 errmsg, pve-common src/PVE/Cmd.pm:289-292, :322), under the
    # worker's prefix (qemu-server src/PVE/API2/Qemu.pm:1372, :1550)
    answer = await ctl.post("/nodes/pve1/qemu", {"vmid": 150, "scsi0": "local-lvm:4"})
    status, log = await task_end(ctl, answer.json()["data"])
    assert status["exitstatus"].startswith("unable to create VM 150 - lvcreate 'pve/vm-150-disk-0' error:")
    assert log[-1] == "TASK ERROR: " + status["exitstatus"]
    assert 150 not in ctl.backend.mock.cluster.guests
    # a disk added by a synchronous config update fails the call itself
    added = await ctl.put("/nodes/pve2/qemu/101/config", {"scsi1": "local-lvm:1"})
    assert added.status_code == 500 and "thin pool pve/data" in added.json()["message"]
    assert "scsi1" not in ctl.backend.mock.cluster.guests[101].config
    # a storage with room still takes the disk
    await ctl.client.put("/_gateway/storages/local-lvm", json={"full": False}, headers=KEY)
    assert (await ctl.put("/nodes/pve2/qemu/101/config", {"scsi1": "local-lvm:1"})).status_code == 200


async def test_a_full_lvm_storage_says_so_in_its_own_words(ctl: PVE) -> None:
    await ctl.data("POST", "/storage", {"storage": "thick", "type": "lvm", "vgname": "vg0", "content": "images"})
    await ctl.client.put("/_gateway/storages/thick", json={"full": True}, headers=KEY)
    answer = await ctl.post("/nodes/pve1/storage/thick/content", {"vmid": 101, "filename": "vm-101-disk-9",
                                                                   "size": "1G"})
    # pve-storage src/PVE/Storage/LVMPlugin.pm:713, the size in KiB
    assert (answer.status_code, answer.json()["message"]) == (500, "not enough free space (0 < 1048576)\n")


async def test_a_failed_task_of_the_store_leaves_its_configuration_as_it_was(ctl: PVE) -> None:
    await inject(ctl, kind="task", operation="POST /nodes/{node}/disks/directory", times=1,
                 message="unable to create directory storage: disk /dev/sdb is in use")
    answer = await ctl.post("/nodes/pve1/disks/directory", {"name": "data1", "device": "/dev/sdb"})
    status, _ = await task_end(ctl, answer.json()["data"])
    assert status["exitstatus"] == "unable to create directory storage: disk /dev/sdb is in use"
    assert await ctl.data("GET", "/nodes/pve1/disks/directory") == []
    await ctl.data("POST", "/nodes/pve1/disks/directory", {"name": "data1", "device": "/dev/sdb"})
    assert [d["name"] for d in await ctl.data("GET", "/nodes/pve1/disks/directory")] == ["data1"]
