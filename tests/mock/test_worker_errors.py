"""Checks PVE makes inside the forked worker: the call answers 200 + UPID, the task ends
``TASK ERROR: <PVE's text>`` (its exitstatus and the last log line) and nothing changes. Clients see these
failures by polling the task (bpg's WaitForTask, Ansible's api_task_ok), never as an HTTP error."""

from __future__ import annotations

from typing import Any

from tests.mock.conftest import PVE

VM = "/nodes/pve2/qemu/101"  # stopped, scsi0 64G on local-lvm
RUNNING_VM = "/nodes/pve1/qemu/100"
CT = "/nodes/pve1/lxc/200"  # running


async def task_failure(pve: PVE, method: str, path: str, data: dict[str, Any] | None = None) -> str:
    """The call succeeds with a UPID; the task's exit status (equal to its log's ``TASK ERROR:`` line)."""
    upid = await pve.data(method, path, data)
    assert isinstance(upid, str) and upid.startswith("UPID:")
    node = upid.split(":")[1]
    status = await pve.data("GET", f"/nodes/{node}/tasks/{upid}/status")
    log = await pve.data("GET", f"/nodes/{node}/tasks/{upid}/log")
    assert status["status"] == "stopped" and log[-1]["t"] == f"TASK ERROR: {status['exitstatus']}"
    exitstatus: str = status["exitstatus"]
    return exitstatus


def lock(pve: PVE, vmid: int, what: str = "backup") -> None:
    pve.backend.mock.cluster.guests[vmid].lock = what


async def test_qemu_resize_checks_in_the_worker(pve: PVE) -> None:
    """qemu-server src/PVE/API2/Qemu.pm:6001-6048: digest, lock, disk, cdrom and shrink all in the worker."""
    before = await pve.data("GET", f"{VM}/config")
    assert await task_failure(pve, "PUT", f"{VM}/resize", {"disk": "scsi0", "size": "+1G", "digest": "0" * 40}) \
        == "checksum mismatch (file change by other user?)"  # :6006
    assert await task_failure(pve, "PUT", f"{VM}/resize", {"disk": "scsi5", "size": "+1G"}) \
        == "disk 'scsi5' does not exist"  # :6010
    await pve.data("PUT", f"{VM}/config", {"ide2": "none,media=cdrom"})
    assert await task_failure(pve, "PUT", f"{VM}/resize", {"disk": "ide2", "size": "+1G"}) \
        == "you can't resize a cdrom"  # :6021
    assert await task_failure(pve, "PUT", f"{VM}/resize", {"disk": "scsi0", "size": "1G"}) \
        == "shrinking disks is not supported"  # :6048
    lock(pve, 101)
    assert await task_failure(pve, "PUT", f"{VM}/resize", {"disk": "scsi0", "size": "+1G"}) \
        == "VM is locked (backup)"  # :6008 -> pve-guest-common AbstractConfig.pm:339
    after = await pve.data("GET", f"{VM}/config")
    assert after["scsi0"] == before["scsi0"] == "local-lvm:vm-101-disk-0,size=64G"


async def test_lxc_resize_checks_before_forking(pve: PVE) -> None:
    """pve-container src/PVE/API2/LXC.pm:2368-2405 runs its checks once before forking: answered at once."""
    shrink = await pve.put(f"{CT}/resize", {"disk": "rootfs", "size": "1G"})
    assert (shrink.status_code, shrink.json()["message"]) == (500, "unable to shrink disk size\n")
    # LXC/Config.pm:1450-1459: an absent mount point parses as '' (pve-common JSONSchema.pm:1141-1144)
    missing = await pve.put(f"{CT}/resize", {"disk": "mp3", "size": "+1G"})
    assert (missing.status_code, missing.json()["message"]) == (500, "format error\n")
    assert missing.json()["errors"] == {"volume": "property is missing and it is not optional"}
    lock(pve, 200)
    locked = await pve.put(f"{CT}/resize", {"disk": "rootfs", "size": "+1G"})
    assert (locked.status_code, locked.json()["message"]) == (500, "CT is locked (backup)\n")


async def test_snapshot_checks_in_the_worker(pve: PVE) -> None:
    """pve-guest-common src/PVE/AbstractConfig.pm:738-750 (create), :930 (delete), :1134-1166 (rollback)."""
    await pve.data("POST", f"{VM}/snapshot", {"snapname": "s1"})
    assert await task_failure(pve, "POST", f"{VM}/snapshot", {"snapname": "s1"}) \
        == "snapshot name 's1' already used"
    assert await task_failure(pve, "POST", f"{VM}/snapshot/nope/rollback") == "snapshot 'nope' does not exist"
    assert await task_failure(pve, "DELETE", f"{VM}/snapshot/nope") == "snapshot 'nope' does not exist"
    lock(pve, 101)
    assert await task_failure(pve, "POST", f"{VM}/snapshot", {"snapname": "s2"}) == "VM is locked (backup)"
    assert await task_failure(pve, "POST", f"{VM}/snapshot/s1/rollback") == "VM is locked (backup)"
    # set_lock (:359) checks the lock even with force, which only skips the replication check (:933)
    assert await task_failure(pve, "DELETE", f"{VM}/snapshot/s1", {"force": "1"}) == "VM is locked (backup)"
    pve.backend.mock.cluster.guests[101].lock = None
    await pve.data("POST", f"{VM}/template")
    assert await task_failure(pve, "POST", f"{VM}/snapshot", {"snapname": "s3"}) \
        == "you can't take a snapshot if it's a template"
    assert await task_failure(pve, "POST", f"{VM}/snapshot/s1/rollback") == "you can't rollback if vm is a template"
    names = [s["name"] for s in await pve.data("GET", f"{VM}/snapshot")]
    assert names == ["s1", "current"]


async def test_snapshot_reserved_names_are_refused_at_once(pve: PVE) -> None:
    """qemu-server Qemu.pm:6212-6216 (``current``, ``pending`` in any case); pve-container
    LXC/Snapshot.pm:152-156 (``current``, ``vzdump``): before forking."""
    for path, name in ((VM, "current"), (VM, "Pending"), (CT, "current"), (CT, "vzdump")):
        response = await pve.post(f"{path}/snapshot", {"snapname": name})
        word = name.lower()
        assert (response.status_code, response.json()["message"]) == (
            500, f"unable to use snapshot name '{word}' (reserved name)\n"), (path, name)
    assert await pve.data("POST", f"{CT}/snapshot", {"snapname": "pending"})


async def test_power_lock_checks_in_the_worker(pve: PVE) -> None:
    """QEMU checks the lock in every power worker (qemu-server QemuServer.pm:5526 start, :6090 reset,
    :6260 stop/shutdown, QemuServer/RunState.pm:34 suspend, :172 resume); LXC in start/stop/shutdown/suspend
    (pve-container src/PVE/API2/LXC/Status.pm:195, :302, :387, :441), not in reboot or resume."""
    lock(pve, 100)
    for verb in ("stop", "shutdown", "reboot", "reset", "suspend"):
        assert await task_failure(pve, "POST", f"{RUNNING_VM}/status/{verb}") == "VM is locked (backup)", verb
    assert (await pve.data("GET", f"{RUNNING_VM}/status/current"))["status"] == "running"
    ok = await pve.data("POST", f"{RUNNING_VM}/status/stop", {"skiplock": "1"})
    assert (await pve.data("GET", f"/nodes/pve1/tasks/{ok}/status"))["exitstatus"] == "OK"
    lock(pve, 200)
    for verb in ("suspend", "shutdown"):
        assert await task_failure(pve, "POST", f"{CT}/status/{verb}") == "CT is locked (backup)", verb
    rebooted = await pve.data("POST", f"{CT}/status/reboot")
    assert (await pve.data("GET", f"/nodes/pve1/tasks/{rebooted}/status"))["exitstatus"] == "OK"


async def test_template_start_fails_in_the_worker(pve: PVE) -> None:
    """qemu-server QemuServer.pm:5512; pve-container src/PVE/API2/LXC/Status.pm:191."""
    await pve.data("POST", f"{VM}/template")
    assert await task_failure(pve, "POST", f"{VM}/status/start") == "you can't start a vm if it's a template"
    await pve.data("POST", f"{CT}/status/stop")
    await pve.data("POST", f"{CT}/template")
    assert await task_failure(pve, "POST", f"{CT}/status/start") == "you can't start a CT if it's a template"


async def test_lxc_power_state_texts(pve: PVE) -> None:
    """pve-container src/PVE/API2/LXC/Status.pm:542 (reboot names the CT a VM), :485 (resume refuses a
    running CT; a suspended CT is checkpointed and stopped, :443)."""
    resumed = await pve.post(f"{CT}/status/resume")
    assert (resumed.status_code, resumed.json()["message"]) == (500, "CT 200 already running\n")
    await pve.data("POST", f"{CT}/status/suspend")
    # a suspended CT does not run: LXC shutdown and reboot have no 'paused' check (only QEMU's Qemu.pm:3928, :4011)
    shutdown = await pve.post(f"{CT}/status/shutdown")
    assert (shutdown.status_code, shutdown.json()["message"]) == (500, "CT 200 not running\n")
    await pve.data("POST", f"{CT}/status/resume")
    await pve.data("POST", f"{CT}/status/stop")
    reboot = await pve.post(f"{CT}/status/reboot")
    assert (reboot.status_code, reboot.json()["message"]) == (500, "VM 200 not running\n")


async def test_lxc_live_migration_fails_in_the_worker(pve: PVE) -> None:
    """pve-container src/PVE/API2/LXC.pm:1695-1697 before forking; src/PVE/LXC/Migrate.pm:52 in the worker."""
    refused = await pve.post(f"{CT}/migrate", {"target": "pve2"})
    assert refused.json()["message"] == "can't migrate running container without --online or --restart\n"
    assert await task_failure(pve, "POST", f"{CT}/migrate", {"target": "pve2", "online": "1"}) \
        == "lxc live migration is currently not implemented"
    assert pve.backend.mock.cluster.guests[200].node == "pve1"


async def test_qemu_destroy_checks_the_lock_in_the_worker(pve: PVE) -> None:
    """qemu-server Qemu.pm:2826-2845 before forking, the lock in destroy_vm (QemuServer.pm:1848)."""
    lock(pve, 101)
    assert await task_failure(pve, "DELETE", VM) == "VM is locked (backup)"
    assert 101 in pve.backend.mock.cluster.guests and pve.backend.mock.cluster.guests[101].lock == "backup"
    lock(pve, 200)
    refused = await pve.delete(CT)  # pve-container LXC.pm:860: the CT's lock is an early check
    assert (refused.status_code, refused.json()["message"]) == (500, "CT is locked (backup)\n")


async def test_lxc_destroy_force_stops_a_running_ct(pve: PVE) -> None:
    """pve-container src/PVE/API2/LXC.pm:879-893: ``force`` skips the running check and stops the CT."""
    refused = await pve.delete(CT)
    assert refused.json()["message"] == "unable to destroy CT 200 - container is running\n"
    upid = await pve.data("DELETE", CT, {"force": "1"})
    assert (await pve.data("GET", f"/nodes/pve1/tasks/{upid}/status"))["exitstatus"] == "OK"
    assert 200 not in pve.backend.mock.cluster.guests
