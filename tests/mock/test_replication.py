"""Storage replication jobs with PVE's checks (pve-manager PVE/API2/ReplicationConfig.pm:133-186, pve-guest-common
ReplicationConfig.pm:171-181, qemu-server QemuConfig.pm:136-179) and the node's view of them
(pve-manager PVE/API2/Replication.pm, pve-guest-common ReplicationState.pm)."""

from __future__ import annotations

from typing import Any

from tests.mock.conftest import PVE


async def _zfs_disk(pve: PVE) -> None:
    """VM 100 (pve1) with a ZFS disk to replicate and its LVM disk left out."""
    await pve.data("POST", "/storage", {"storage": "tank", "type": "zfspool", "pool": "rpool/data",
                                        "content": "images,rootdir"})
    await pve.data("POST", "/nodes/pve1/qemu/100/config", {
        "scsi0": "local-lvm:vm-100-disk-0,size=32G,replicate=0", "scsi1": "tank:1"})


async def _refused(pve: PVE, data: dict[str, Any]) -> str:
    response = await pve.post("/cluster/replication", {"type": "local", **data})
    assert response.status_code == 500, response.text
    message: str = response.json()["message"]
    return message


async def test_a_job_needs_a_guest_a_distinct_target_and_volumes_that_replicate(pve: PVE) -> None:
    assert await _refused(pve, {"id": "999-0", "target": "pve2"}) == "Guest '999' does not exist.\n"  # :152-153
    assert await _refused(pve, {"id": "100-0", "target": "pve9"}) == "Target 'pve9' does not exist.\n"  # :154-155
    assert await _refused(pve, {"id": "100-0", "target": "pve2", "source": "pve3"}) == (
        "Source 'pve3' does not match current node of guest '100' (pve1)\n")  # :158-160
    assert await _refused(pve, {"id": "100-0", "target": "pve1"}) == "Source and target must not be identical\n"
    # LVM-thin cannot replicate (QemuConfig.pm:168-171) ...
    assert await _refused(pve, {"id": "100-0", "target": "pve2"}) == (
        "missing replicate feature on volume 'local-lvm:vm-100-disk-0'\n")
    await pve.data("POST", "/nodes/pve1/qemu/100/config", {"scsi0": "local-lvm:vm-100-disk-0,size=32G,replicate=0"})
    assert await _refused(pve, {"id": "100-0", "target": "pve2"}) == "No replicatable volumes found\n"  # :168
    assert await pve.data("GET", "/cluster/replication") == []  # nothing was made
    await _zfs_disk(pve)
    await pve.data("POST", "/cluster/replication", {"id": "100-0", "type": "local", "target": "pve2"})
    # one job per guest and target (pve-guest-common ReplicationConfig.pm:179-180)
    assert await _refused(pve, {"id": "100-1", "target": "pve2"}) == (
        "replication job for guest '100' to target 'local/pve2' already exists\n")
    [job] = await pve.data("GET", "/cluster/replication")
    assert (job["id"], job["guest"], job["jobnum"], job["target"]) == ("100-0", 100, 0, "pve2")


async def test_the_nodes_status_shows_the_schedule_and_a_run_moves_last_sync(pve: PVE) -> None:
    await _zfs_disk(pve)
    await pve.data("POST", "/cluster/replication", {"id": "100-0", "type": "local", "target": "pve2",
                                                    "schedule": "*/30"})
    [status] = await pve.data("GET", "/nodes/pve1/replication")
    # ReplicationState.pm:57-60, :298-301: never ran, due at the schedule's first event after 0
    assert (status["id"], status["last_sync"], status["fail_count"], status["next_sync"]) == ("100-0", 0, 0, 1800)
    assert await pve.data("GET", "/nodes/pve2/replication") == []  # only the guest's node runs the job
    missing = await pve.get("/nodes/pve2/replication/100-0/status")
    assert missing.json()["message"] == "no such replication job '100-0'\n"  # Replication.pm:311
    assert await pve.data("POST", "/nodes/pve1/replication/100-0/schedule_now") == ""
    now = pve.backend.mock.clock.now()
    ran = await pve.data("GET", "/nodes/pve1/replication/100-0/status")
    assert (ran["last_sync"], ran["last_try"], ran["fail_count"]) == (now, now, 0) and ran["duration"] > 0
    assert ran["next_sync"] > now and ran["next_sync"] % 1800 == 0  # the next */30 after the run
    log = [line["t"] for line in await pve.data("GET", "/nodes/pve1/replication/100-0/log")]
    # pve-guest-common Replication.pm:315-317, :389, :432, :515-523
    assert log[0].endswith("100-0: start replication job") and log[-1].endswith("100-0: end replication job")
    assert any(line.endswith("volumes => tank:vm-100-disk-0") for line in log)
    assert any(f"full sync 'tank:vm-100-disk-0' (__replicate_100-0_{now}__)" in line for line in log)
