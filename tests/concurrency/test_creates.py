"""Concurrent creates: every distinct VMID becomes one guest, a contested VMID exactly one, and no
client ever sees a half-made guest.

"Half-made" is defined by what PVE shows: ``create_and_lock_config`` writes the config with
``lock: create`` before the worker runs, and the worker clears the lock once the disks exist. So a
guest may be listed while its create runs, but then with ``lock: create``; a guest listed without a
lock has its disks, and the lock goes away when the task ends, whoever is watching.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pvegateway.testing import PVEMock
from tests.concurrency.conftest import CLIENTS, Answer, Client

GiB = 1024**3


def _qemu(vmid: int) -> dict[str, Any]:
    return {"vmid": vmid, "name": f"c{vmid}", "memory": 512, "scsi0": "local-lvm:1", "net0": "virtio,bridge=vmbr0"}


def _lxc(vmid: int) -> dict[str, Any]:
    return {"vmid": vmid, "ostemplate": "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst",
            "rootfs": "local-lvm:1", "net0": "name=eth0,bridge=vmbr0"}


async def test_distinct_creates_make_one_guest_each(client: Client) -> None:
    vmids = range(1000, 1000 + CLIENTS)
    created = asyncio.Barrier(CLIENTS)

    async def one(vmid: int) -> tuple[str, dict[str, Any]]:
        upid = str(await client.ok("POST", "/nodes/pve1/qemu", _qemu(vmid)))
        await created.wait()  # every create is in before any task is polled: all overlap
        first = await client.ok("GET", f"/nodes/pve1/tasks/{upid}/status")
        assert first["status"] == "running"
        return upid, await client.wait_task(upid)

    results = await asyncio.gather(*(one(v) for v in vmids))
    assert len({upid for upid, _ in results}) == CLIENTS
    assert [status["exitstatus"] for _, status in results] == ["OK"] * CLIENTS
    listed = {g["vmid"]: g for g in await client.ok("GET", "/cluster/resources", {"type": "vm"})}
    assert set(vmids) <= set(listed) and len(listed) == CLIENTS + 3
    assert all("lock" not in listed[v] and listed[v]["maxdisk"] == GiB for v in vmids)
    disks = {v["volid"] for v in await client.ok("GET", "/nodes/pve1/storage/local-lvm/content")}
    assert {f"local-lvm:vm-{v}-disk-0" for v in vmids} <= disks
    macs = set()
    for vmid in vmids:
        config = await client.ok("GET", f"/nodes/pve1/qemu/{vmid}/config")
        macs.add(config["net0"].split(",")[0])
    assert len(macs) == CLIENTS  # the MAC counter is never handed out twice


async def test_one_vmid_contested_by_every_client_is_created_once(client: Client) -> None:
    async def one(i: int) -> Answer:
        node = f"pve{i % 3 + 1}"
        kind, body = ("qemu", _qemu(150)) if i % 2 else ("lxc", _lxc(150))
        return await client.call("POST", f"/nodes/{node}/{kind}", body)

    answers = await asyncio.gather(*(one(i) for i in range(CLIENTS)))
    won = [a for a in answers if a.status == 200]
    assert len(won) == 1
    upid = str(won[0].data)
    node, label = upid.split(":")[1], "VM" if ":qmcreate:" in upid else "CT"
    lost = {(a.status, a.message) for a in answers if a.status != 200}
    # pve-cluster Cluster.pm:796, which QEMU's create prefixes (qemu-server Qemu.pm:1372-1375)
    taken = f"{label} 150 already exists on node '{node}'\n"
    assert lost == {(500, taken), (500, f"unable to create VM 150 - {taken}")}
    assert (await client.wait_task(upid))["exitstatus"] == "OK"
    listed = [g for g in await client.ok("GET", "/cluster/resources", {"type": "vm"}) if g["vmid"] == 150]
    assert [(g["node"], "lock" in g) for g in listed] == [(node, False)]
    volumes = [v["volid"] for n in ("pve1", "pve2", "pve3")
               for v in await client.ok("GET", f"/nodes/{n}/storage/local-lvm/content") if v.get("vmid") == 150]
    assert volumes == ["local-lvm:vm-150-disk-0"]  # the losers allocated nothing


def _check_whole(entry: dict[str, Any]) -> None:
    """A guest is either still locked by its create, or complete: never listed unlocked without disks."""
    if entry.get("lock") is None:
        assert entry["maxdisk"] == GiB and entry["name"] == f"c{entry['vmid']}", entry
    else:
        assert entry["lock"] == "create", entry


async def test_resources_never_show_a_half_created_guest_and_locks_clear_on_time(
        mock: PVEMock, client: Client) -> None:
    mock.control.set_tasks("delay:60")  # tasks end 60 s later on the mock's clock, whoever polls
    vmids = range(2000, 2000 + CLIENTS)
    done = asyncio.Event()
    views: list[list[dict[str, Any]]] = []

    async def watch() -> None:
        while not done.is_set():
            views.append(await client.ok("GET", "/cluster/resources", {"type": "vm"}))

    watcher = asyncio.create_task(watch())
    upids = await asyncio.gather(*(client.ok("POST", "/nodes/pve2/qemu", _qemu(v)) for v in vmids))
    done.set()
    await watcher
    during = {g["vmid"]: g for g in await client.ok("GET", "/cluster/resources", {"type": "vm"})}
    assert all(during[v].get("lock") == "create" for v in vmids)
    mock.control.advance(61)
    # nobody reads a task's status: the locks still clear, as PVE's workers end by themselves
    after = {g["vmid"]: g for g in await client.ok("GET", "/cluster/resources", {"type": "vm"})}
    assert all("lock" not in after[v] for v in vmids)
    for view in [*views, list(during.values()), list(after.values())]:
        for entry in view:
            if entry["vmid"] in vmids:
                _check_whole(entry)
    assert len(views) >= 1
    statuses = await asyncio.gather(*(client.ok("GET", f"/nodes/pve2/tasks/{u}/status") for u in upids))
    assert {(s["status"], s["exitstatus"]) for s in statuses} == {("stopped", "OK")}


async def test_a_stopped_create_leaves_no_guest_and_no_disk(mock: PVEMock, client: Client) -> None:
    before = mock.control.dump()
    upids = await asyncio.gather(*(client.ok("POST", "/nodes/pve3/qemu", _qemu(v)) for v in range(3000, 3016)))
    clone = await client.ok("POST", "/nodes/pve2/qemu/101/clone", {"newid": 3100, "full": 1})
    for upid in [*upids, clone]:
        assert await client.ok("DELETE", f"/nodes/{upid.split(':')[1]}/tasks/{upid}") is None
        status = await client.ok("GET", f"/nodes/{upid.split(':')[1]}/tasks/{upid}/status")
        assert status["exitstatus"] == "received interrupt"
    listed = {g["vmid"] for g in await client.ok("GET", "/cluster/resources", {"type": "vm"})}
    assert listed == {100, 101, 200}
    after = mock.control.dump()
    assert after["guests"] == before["guests"] and after["storages"] == before["storages"]
    # the VMIDs are free again
    upid = await client.ok("POST", "/nodes/pve3/qemu", _qemu(3000))
    assert (await client.wait_task(upid))["exitstatus"] == "OK"
