"""Every operation that answers a UPID starts a real task of the mock: listed, with a log, pollable to
``stopped`` with an ``exitstatus``, of the type PVE's handler gives ``fork_worker``.

Before the configuration store, the 62 such operations without a realistic handler answered one
constant UPID (``...:generic::root@pam:``) that ``GET /nodes/{node}/tasks/{upid}/status`` refused: every
client waiting on ``vzdump``, ``download-url``, ``PUT /cluster/sdn`` or ``PUT /nodes/{node}/network`` failed.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from pvegateway.apidoc.operation import Operation
from pvegateway.backends.mock.backend import MockOptions
from tests.mock.conftest import mock_app
from tests.mock.test_zero_privilege import BACKUP, CONTROL, Walk
from tests.mock.walking import call, parameters, root_walk

# the schema says 'string' but PVE answers no UPID
NOT_TASKS: Mapping[str, str] = {
    "POST /nodes/{node}/qemu/{vmid}/monitor": "qemu-server src/PVE/API2/Qemu.pm:5926-5933: the monitor's output",
    "POST /cluster/sdn/lock": "pve-network src/PVE/API2/Network/SDN.pm:141-152: a lock token",
    "POST /nodes/{node}/replication/{id}/schedule_now": "pve-manager PVE/API2/Replication.pm:415-434",
    "POST /access/openid/auth-url": "pve-access-control src/PVE/API2/OpenId.pm: the provider's login URL",
    "POST /nodes/{node}/storage/{storage}/content": "pve-storage src/PVE/API2/Storage/Content.pm:233: a volid",
}
# a multipart body, tested over the wire in tests/mock/test_upload.py
ELSEWHERE = frozenset({"POST /nodes/{node}/storage/{storage}/upload"})

# what makes the call valid in the walk's state (a stopped guest to destroy, a disk that exists...)
OVERRIDES: Mapping[str, Mapping[str, Any]] = {
    "DELETE /nodes/{node}/qemu/{vmid}": {"node": "pve2", "vmid": "101"},
    "POST /nodes/{node}/qemu/{vmid}/template": {"node": "pve2", "vmid": "101"},
    "POST /nodes/{node}/qemu/{vmid}/clone": {"newid": "300"},
    "POST /nodes/{node}/lxc/{vmid}/clone": {"newid": "300"},
    "POST /nodes/{node}/qemu/{vmid}/config": {"description": "walked"},
    "POST /nodes/{node}/qemu/{vmid}/migrate": {"target": "pve2", "online": "1", "with-local-disks": "1"},
    "POST /nodes/{node}/lxc/{vmid}/migrate": {"target": "pve2", "restart": "1"},
    "POST /nodes/{node}/qemu/{vmid}/move_disk": {"disk": "scsi0", "storage": "spare"},
    "POST /nodes/{node}/lxc/{vmid}/move_volume": {"volume": "rootfs", "storage": "spare"},
    "PUT /nodes/{node}/qemu/{vmid}/resize": {"disk": "scsi0", "size": "+1G"},
    "PUT /nodes/{node}/lxc/{vmid}/resize": {"disk": "rootfs", "size": "+1G"},
    "DELETE /nodes/{node}/storage/{storage}/content/{volume}": {"volume": BACKUP},
    "POST /nodes/{node}/storage/{storage}/download-url": {"content": "iso", "filename": "debian-13.iso"},
    "POST /access/domains/{realm}/sync": {"realm": "corp", "scope": "users"},  # LDAP/AD only (Domains.pm:556)
}
# calls made first (the CT the walk runs must stop before it can go, a disk moves to another storage)
_SPARE = ("/storage", {"storage": "spare", "type": "dir", "path": "/srv/spare", "content": "images,rootdir"})
BEFORE: Mapping[str, tuple[tuple[str, Mapping[str, str]], ...]] = {
    "DELETE /nodes/{node}/lxc/{vmid}": (("/nodes/pve1/lxc/200/status/stop", {}),),
    "POST /nodes/{node}/lxc/{vmid}/status/start": (("/nodes/pve1/lxc/200/status/stop", {}),),
    # a running CT refuses resume (pve-container src/PVE/API2/LXC/Status.pm:485): suspend it first
    "POST /nodes/{node}/lxc/{vmid}/status/resume": (("/nodes/pve1/lxc/200/status/suspend", {}),),
    "POST /nodes/{node}/lxc/{vmid}/move_volume": (_SPARE, ("/nodes/pve1/lxc/200/status/stop", {})),
    "POST /nodes/{node}/qemu/{vmid}/move_disk": (_SPARE,),
    "POST /access/domains/{realm}/sync": (("/access/domains", {
        "realm": "corp", "type": "ldap", "base_dn": "dc=example", "user_attr": "uid", "server1": "ldap.example"}),),
}
# PVE's task type for the operations clients wait on (the handler's fork_worker call)
TYPES: Mapping[str, str] = {
    "POST /nodes/{node}/vzdump": "vzdump",  # pve-manager PVE/API2/VZDump.pm:178
    "POST /nodes/{node}/storage/{storage}/download-url": "download",  # pve-storage Storage/Status.pm:911
    "PUT /cluster/sdn": "reloadnetworkall",  # pve-network src/PVE/API2/Network/SDN.pm:327
    "PUT /nodes/{node}/network": "srvreload",  # pve-manager PVE/API2/Network.pm:948
    "POST /nodes/{node}/aplinfo": "download",  # pve-manager PVE/API2/Nodes.pm:1841
    "POST /access/domains/{realm}/sync": "auth-realm-sync",  # pve-access-control Domains.pm:601-602
    "POST /nodes/{node}/disks/zfs": "zfscreate",  # pve-storage src/PVE/API2/Disks/ZFS.pm:528
    "POST /nodes/{node}/ceph/pool": "cephcreatepool",  # pve-manager PVE/API2/Ceph/Pool.pm:542
}


@pytest.fixture
async def walk() -> AsyncIterator[Walk]:
    app = mock_app(MockOptions(secret=b"walk-secret", control_key=CONTROL))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://pve1:8006") as client:
        walk = await root_walk(app, client)
        volume = walk.backend.mock.cluster.storages["local"].bucket("pve1")
        assert BACKUP in volume  # the zero-privilege walk's backup, for the volume operations
        yield walk


async def _creator(walk: Walk, op: Operation, params: Mapping[str, Any]) -> Operation | None:
    """The create a call on an item needs first, when the item is missing: the collection's POST, or
    one on the item's own path."""
    segments = op.path.split("/")
    last = max((i for i, s in enumerate(segments) if s.startswith("{")), default=0)
    item = "/".join(segments[:last + 1])
    if op.method == "GET" or not last or (op.method == "POST" and op.path == item):
        return None
    ops = {o.key: o for o in walk.app.schema.operations}
    read = ops.get(f"GET {item}/config") or ops.get(f"GET {item}")  # a snapshot's path is an index
    if read is not None and (await call(walk, read, {k: params[k] for k in read.path_params})).status_code == 200:
        return None
    post = ops.get(f"POST {'/'.join(segments[:last])}")
    if post is not None and segments[last][1:-1] in (post.parameters.get("properties") or {}):
        return post
    creator = ops.get(f"POST {item}")
    return creator if creator is not op else None


async def _task(walk: Walk, op: Operation) -> str:
    walk.restore()
    params = parameters(walk, op, OVERRIDES.get(op.key))
    for path, data in BEFORE.get(op.key, ()):
        assert (await walk.client.post("/api2/json" + path, data=data, headers=walk.headers)).status_code == 200
    creator = await _creator(walk, op, params)
    if creator is not None:
        made = await call(walk, creator, parameters(walk, creator, {**OVERRIDES.get(creator.key, {}), **{
            k: v for k, v in params.items() if k in op.path_params}}))
        assert made.status_code == 200, (creator.key, made.text)
    response = await call(walk, op, params)
    assert response.status_code == 200, (op.key, response.text)
    upid = response.json()["data"]
    assert isinstance(upid, str) and upid.startswith("UPID:"), (op.key, upid)
    return upid


async def _status(walk: Walk, upid: str) -> dict[str, Any]:
    node = upid.split(":")[1]
    response = await walk.client.get(f"/api2/json/nodes/{node}/tasks/{quote(upid, safe='')}/status",
                                     headers=walk.headers)
    assert response.status_code == 200, (upid, response.text)
    status = response.json()["data"]
    assert isinstance(status, dict)
    return status


async def test_every_upid_answer_is_a_task_that_stops_with_an_exit_status(walk: Walk) -> None:
    tasks = [op for op in walk.app.schema.operations if op.returns_task]
    checked = 0
    for op in sorted(tasks, key=lambda o: (o.path, o.method)):
        if op.key in NOT_TASKS or op.key in ELSEWHERE:
            continue
        upid = await _task(walk, op)
        status = await _status(walk, upid)
        assert status["status"] == "stopped" and status["exitstatus"], (op.key, status)
        node, kind = upid.split(":")[1], upid.split(":")[5]
        assert status["type"] == kind and status["upid"] == upid
        if op.key in TYPES:
            assert kind == TYPES[op.key], (op.key, upid)
        listed = await walk.client.get(f"/api2/json/nodes/{node}/tasks", params={"limit": 1000},
                                       headers=walk.headers)
        assert upid in [t["upid"] for t in listed.json()["data"]], op.key
        log = await walk.client.get(f"/api2/json/nodes/{node}/tasks/{quote(upid, safe='')}/log",
                                    headers=walk.headers)
        assert log.json()["data"], op.key
        checked += 1
    assert (len(tasks), checked) == (99, 93)


async def test_operations_the_schema_types_as_a_string_but_pve_answers_without_a_task(walk: Walk) -> None:
    ops = {op.key: op for op in walk.app.schema.operations}
    assert set(NOT_TASKS) <= {k for k, op in ops.items() if op.returns_task}
    walk.restore()
    monitor = await call(walk, ops["POST /nodes/{node}/qemu/{vmid}/monitor"],
                         {"node": "pve2", "vmid": "101", "command": "info version"})
    assert monitor.json()["data"] == "ERROR: VM 101 not running\n"  # Qemu.pm:5931-5932
    # the walk's zone and vnet were never applied: pending changes (pve-network API2/Network/SDN.pm:149)
    lock = await call(walk, ops["POST /cluster/sdn/lock"], {"allow-pending": 1})
    assert lock.status_code == 200 and not str(lock.json()["data"]).startswith("UPID:")


async def test_a_store_task_runs_until_the_progression_stops_it() -> None:
    """``--tasks polls:2``: a vzdump is running at first, stopped after two status reads."""
    app = mock_app(MockOptions(secret=b"walk-secret", control_key=CONTROL, tasks="polls:2"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://pve1:8006") as client:
        walk = await root_walk(app, client)
        op = next(o for o in app.schema.operations if o.key == "POST /nodes/{node}/vzdump")
        upid = (await call(walk, op, {"node": "pve1", "vmid": "100", "storage": "local"})).json()["data"]
        assert upid.split(":")[5:7] == ["vzdump", "100"]  # VZDump.pm:175-176: one guest names the task
        assert (await _status(walk, upid))["status"] == "running"
        second = await _status(walk, upid)
        assert (second["status"], second["exitstatus"]) == ("stopped", "OK")


async def test_a_download_and_a_backup_leave_their_volumes_on_the_storage(walk: Walk) -> None:
    """What clients look for once the task stopped: bpg's download_file and Ansible's proxmox_template
    list the storage's content for the ISO (pve-storage Storage/Status.pm:820-911), Ansible's
    proxmox_backup the backups vzdump wrote (pve-manager PVE/VZDump.pm:949-1000)."""
    walk.restore()
    client, headers = walk.client, walk.headers
    fetched = await client.post("/api2/json/nodes/pve2/storage/local/download-url", data={
        "content": "iso", "filename": "debian-13.0.0-amd64-netinst.iso",
        "url": "https://cdimage.debian.org/debian-13.0.0-amd64-netinst.iso"}, headers=headers)
    assert fetched.json()["data"].split(":")[5:7] == ["download", "debian-13.0.0-amd64-netinst.iso"]
    content = (await client.get("/api2/json/nodes/pve2/storage/local/content", params={"content": "iso"},
                                headers=headers)).json()["data"]
    assert "local:iso/debian-13.0.0-amd64-netinst.iso" in [v["volid"] for v in content]
    wrong = await client.post("/api2/json/nodes/pve2/storage/local-lvm/download-url", data={
        "content": "iso", "filename": "x.iso", "url": "https://example.com/x.iso"}, headers=headers)
    assert wrong.json()["message"] == "can't upload to storage type 'lvmthin', not a file based storage!\n"
    backup = await client.post("/api2/json/nodes/pve1/vzdump", data={
        "all": "1", "storage": "local", "compress": "zstd"}, headers=headers)
    upid = backup.json()["data"]
    log = (await client.get(f"/api2/json/nodes/pve1/tasks/{quote(upid, safe='')}/log",
                            headers=headers)).json()["data"]
    assert log[-2:] == [{"n": len(log) - 1, "t": "INFO: Backup job finished successfully"},
                        {"n": len(log), "t": "TASK OK"}]
    backups = (await client.get("/api2/json/nodes/pve1/storage/local/content", params={"content": "backup"},
                                headers=headers)).json()["data"]
    day = time.strftime("%Y_%m_%d", time.gmtime(walk.backend.mock.clock.now()))
    made = sorted(v["volid"] for v in backups if v["volid"] != BACKUP)
    assert [v.split("/")[1].rsplit("-", 1)[0] for v in made] == [
        f"vzdump-lxc-200-{day}", f"vzdump-qemu-100-{day}"]
    assert all(v.endswith((".vma.zst", ".tar.zst")) for v in made)  # pve1's guests only, zstd
    refused = await client.post("/api2/json/nodes/pve1/vzdump", data={"vmid": "100", "storage": "local-lvm"},
                                headers=headers)
    status = await _status(walk, refused.json()["data"])
    # pve-manager PVE/VZDump.pm:202 inside new()'s wrapper (:692-693)
    assert status["exitstatus"] == ("could not get storage information for 'local-lvm': "
                                    "can't use storage 'local-lvm' for backups - wrong content type")
