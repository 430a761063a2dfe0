"""A guest's figures in the list, status/current and /cluster/resources follow every write at once.

The mock works the figures out once per distinct config and state (a list of a thousand guests asks
for them all on every read): the read right after a write must show the write, as PVE's own does for
what it takes from the config (qemu-server QemuServer.pm:2535 vmstatus reads the config on each call).
"""

from __future__ import annotations

from typing import Any

from tests.mock.conftest import PVE

VM = "/nodes/pve1/qemu"
MiB = 1024**2
GiB = 1024**3


async def _reads(pve: PVE, vmid: int) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The guest as the list, status/current and /cluster/resources show it."""
    listed = {g["vmid"]: g for g in await pve.data("GET", VM)}[vmid]
    current = await pve.data("GET", f"{VM}/{vmid}/status/current")
    resources = {r["id"]: r for r in await pve.data("GET", "/cluster/resources")}[f"qemu/{vmid}"]
    return listed, current, resources


async def test_config_changes_show_in_every_read_at_once(pve: PVE) -> None:
    await pve.data("POST", VM, {"vmid": "120", "name": "before", "memory": "1024", "cores": "1",
                                "scsi0": "local-lvm:4", "net0": "virtio,bridge=vmbr0"})
    for read in await _reads(pve, 120):  # what each read shows first is remembered by the mock
        assert read["maxmem"] == 1024 * MiB and read["maxdisk"] == 4 * GiB and read["name"] == "before"
    await pve.data("PUT", f"{VM}/120/config", {"memory": "3072", "cores": "2", "sockets": "2", "name": "after",
                                               "serial0": "socket", "tags": "web"})
    await pve.data("PUT", f"{VM}/120/resize", {"disk": "scsi0", "size": "6G"})
    listed, current, resources = await _reads(pve, 120)
    for read in (listed, current, resources):
        assert read["maxmem"] == 3072 * MiB and read["maxdisk"] == 6 * GiB and read["name"] == "after"
        assert read["tags"] == "web"
    assert listed["cpus"] == current["cpus"] == resources["maxcpu"] == 4  # sockets x cores
    assert listed["serial"] == current["serial"] == 1
    await pve.data("PUT", f"{VM}/120/config", {"vcpus": "3", "delete": "serial0,tags"})
    listed, current, _ = await _reads(pve, 120)
    assert listed["cpus"] == current["cpus"] == 3  # QemuServer.pm:2569-2572: vcpus wins
    assert "serial" not in listed and "tags" not in current


async def test_power_lock_and_state_show_in_every_read_at_once(pve: PVE) -> None:
    await pve.data("POST", VM, {"vmid": "121", "memory": "2048", "scsi0": "local-lvm:4", "net0": "virtio,bridge=vmbr0"})
    for read in await _reads(pve, 121):
        assert read["status"] == "stopped" and read["uptime"] == 0 and "pid" not in read
    await pve.data("POST", f"{VM}/121/status/start")
    listed, current, resources = await _reads(pve, 121)
    assert listed["status"] == current["status"] == resources["status"] == "running"
    assert listed["pid"] == current["pid"] > 0 and current["qmpstatus"] == "running" and "blockstat" in current
    await pve.data("POST", f"{VM}/121/status/suspend")
    assert (await pve.data("GET", f"{VM}/121/status/current"))["qmpstatus"] == "paused"
    await pve.data("POST", f"{VM}/121/status/resume")
    pve.backend.mock.cluster.guests[121].lock = "backup"  # as a running vzdump holds it
    listed, current, resources = await _reads(pve, 121)
    assert current["qmpstatus"] == "running" and listed["lock"] == current["lock"] == resources["lock"] == "backup"
    pve.backend.mock.cluster.guests[121].lock = None
    await pve.data("POST", f"{VM}/121/status/stop")
    for read in await _reads(pve, 121):
        assert read["status"] == "stopped" and read["uptime"] == 0 and "pid" not in read and "lock" not in read


async def test_answers_are_fresh_dicts_for_callers_to_add_to(pve: PVE) -> None:
    """status/current adds ``ha`` and the display flags to the guest's status: the list must not show them."""
    stopped = "/nodes/pve2/qemu"  # its config changes apply at once, not as pending ones
    await pve.data("PUT", f"{stopped}/101/config", {"vga": "qxl", "agent": "1"})
    current = await pve.data("GET", f"{stopped}/101/status/current")
    assert current["spice"] == 1 and current["agent"] == 1 and "ha" in current
    listed = {g["vmid"]: g for g in await pve.data("GET", stopped, {"full": "1"})}[101]
    assert "spice" not in listed and "agent" not in listed and "ha" not in listed


async def test_node_and_storage_rows_follow_writes_at_once(pve: PVE) -> None:
    """/nodes and /cluster/resources keep each node's and storage's row while it is unchanged: a VM
    started (the node's memory, API2Tools.pm extract_node_stats), a volume allocated (the storage's
    disk, extract_storage_stats) and a node gone offline show in the next read."""
    async def rows() -> tuple[dict[str, Any], dict[str, Any]]:
        nodes = {n["node"]: n for n in await pve.data("GET", "/nodes")}
        return nodes, {r["id"]: r for r in await pve.data("GET", "/cluster/resources")}

    nodes, resources = await rows()
    before = (nodes["pve1"]["mem"], resources["node/pve1"]["mem"], resources["storage/pve1/local-lvm"]["disk"])
    await pve.data("POST", VM, {"vmid": "130", "memory": "4096"})
    await pve.data("POST", f"{VM}/130/status/start")
    await pve.data("POST", "/nodes/pve1/storage/local-lvm/content",
                   {"vmid": "130", "filename": "vm-130-disk-5", "size": "3G"})
    nodes, resources = await rows()
    assert nodes["pve1"]["mem"] > before[0] and resources["node/pve1"]["mem"] > before[1]
    assert resources["storage/pve1/local-lvm"]["disk"] == before[2] + 3 * GiB
    pve.backend.mock.cluster.nodes["pve2"].online = False
    nodes, resources = await rows()
    assert nodes["pve2"]["status"] == resources["node/pve2"]["status"] == "offline"
    assert "mem" not in nodes["pve2"] and resources["storage/pve2/local"]["status"] == "unknown"


async def test_status_current_follows_ha_at_once(pve: PVE) -> None:
    """status/current keeps its answer while the VM is unchanged, but its ``ha`` comes from the HA
    configuration on every call (qemu-server src/PVE/API2/Qemu.pm:3478 get_service_status)."""
    before = await pve.data("GET", f"{VM}/100/status/current")
    assert before["ha"] == {"managed": 0}
    await pve.data("POST", "/cluster/ha/resources", {"sid": "vm:100", "state": "started"})
    assert (await pve.data("GET", f"{VM}/100/status/current"))["ha"] == {"managed": 1, "state": "started"}
    await pve.data("DELETE", "/cluster/ha/resources/vm:100")
    after = await pve.data("GET", f"{VM}/100/status/current")
    assert after["ha"] == {"managed": 0} and after["vmid"] == 100
