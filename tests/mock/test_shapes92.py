"""PVE 9.2's shapes of /cluster/resources (pve-manager PVE/API2/Cluster.pm, PVE/API2Tools.pm) and of a
VM's status/current (qemu-server src/PVE/QemuServer.pm vmstatus, src/PVE/API2/Qemu.pm vm_status)."""

from __future__ import annotations

from tests.mock.conftest import PVE

VM = "/nodes/pve1/qemu/100"


async def test_pools_come_first_as_slash_pool_with_their_running_members_figures(pve: PVE) -> None:
    await pve.data("POST", "/pools", {"poolid": "prod"})
    await pve.data("PUT", "/pools/prod", {"vms": "100,101", "storage": "local-lvm"})
    data = await pve.data("GET", "/cluster/resources")
    # Cluster.pm:540-548: pools are pushed first, id "/pool/<id>"
    assert data[0]["id"] == "/pool/prod" and data[0]["type"] == "pool" and data[0]["pool"] == "prod"
    web = next(r for r in data if r["id"] == "qemu/100")
    # Cluster.pm:565-583: only members with an uptime count (101 is stopped)
    assert data[0]["maxmem"] == web["maxmem"] and data[0]["mem"] == web["mem"]
    assert data[0]["maxcpu"] == web["maxcpu"] and data[0]["uptime"] == web["uptime"] > 0
    # API2Tools.pm:121-145: a storage row has no pool key, even for a pool's storage
    assert all("pool" not in r for r in data if r["type"] == "storage")
    # type=vm leaves the pools out (Cluster.pm:534)
    assert all(r["type"] != "pool" for r in await pve.data("GET", "/cluster/resources", {"type": "vm"}))


async def test_default_zone_is_a_network_entry_and_sdn_lists_none(pve: PVE) -> None:
    data = await pve.data("GET", "/cluster/resources")
    networks = [r for r in data if r["type"] == "network"]
    # Cluster.pm:694-706: the localnetwork zone per node
    assert {"id": "network/pve1/zone/localnetwork", "type": "network", "network-type": "zone",
            "network": "localnetwork", "node": "pve1", "status": "ok"} in networks
    assert not [r for r in data if r["type"] == "sdn"]
    # Cluster.pm:666-668: a node sending the "network" key-value sends no sdn resources
    assert await pve.data("GET", "/cluster/resources", {"type": "sdn"}) == []


async def test_guest_rows_carry_every_rrd_figure_memhost_included(pve: PVE) -> None:
    rows = {r["id"]: r for r in await pve.data("GET", "/cluster/resources", {"type": "vm"})}
    fields = {"uptime", "name", "status", "template", "maxcpu", "cpu", "maxmem", "mem", "maxdisk", "disk",
              "netin", "netout", "diskread", "diskwrite", "memhost"}
    # API2Tools.pm:95-115: all from the pve-vm-9.0 row, for stopped guests and containers too
    for key in ("qemu/100", "qemu/101", "lxc/200"):
        assert fields <= set(rows[key]), key
    assert rows["qemu/101"]["cpu"] == 0 and rows["qemu/101"]["memhost"] == 0
    assert rows["qemu/100"]["memhost"] > 0 and rows["lxc/200"]["memhost"] == 0
    status = await pve.data("GET", VM + "/status/current")
    assert rows["qemu/100"]["mem"] == status["mem"] and rows["qemu/100"]["memhost"] == status["memhost"]


async def test_running_vm_status_is_full(pve: PVE) -> None:
    status = await pve.data("GET", VM + "/status/current")
    assert status["status"] == "running" and status["qmpstatus"] == "running"
    assert status["running-qemu"].startswith("10.") and status["running-machine"].startswith("pc-i440fx-10.")
    assert status["memhost"] > 0
    for key in ("pressurecpusome", "pressurecpufull", "pressureiosome", "pressureiofull", "pressurememorysome",
                "pressurememoryfull"):
        assert isinstance(status[key], int | float), key
    assert set(status["nics"]) == {"tap100i0"} and set(status["blockstat"]) == {"scsi0"}
    assert status["ha"] == {"managed": 0}
    assert status["agent"] == 1
    stopped = await pve.data("GET", "/nodes/pve2/qemu/101/status/current")
    assert "agent" not in stopped  # Qemu.pm vm_status sets it only when the agent is enabled


async def test_paused_vm_runs_with_qmpstatus_paused(pve: PVE) -> None:
    await pve.data("POST", VM + "/status/suspend")
    status = await pve.data("GET", VM + "/status/current")
    assert status["status"] == "running" and status["qmpstatus"] == "paused"  # QemuServer.pm:2558, 2772


async def test_stopped_vm_status_has_no_runtime_figures(pve: PVE) -> None:
    status = await pve.data("GET", "/nodes/pve2/qemu/101/status/current")
    assert status["status"] == "stopped" and status["qmpstatus"] == "stopped"
    assert status["cpu"] == 0 and status["mem"] == 0 and status["memhost"] == 0 and status["uptime"] == 0
    for key in ("pid", "running-qemu", "running-machine", "pressurecpusome", "diskread", "nics"):
        assert key not in status, key


async def test_vm_list_is_brief_unless_full(pve: PVE) -> None:
    brief = {g["vmid"]: g for g in await pve.data("GET", "/nodes/pve1/qemu")}
    assert "qmpstatus" not in brief[100] and "running-qemu" not in brief[100]  # QemuServer.pm:2675
    full = {g["vmid"]: g for g in await pve.data("GET", "/nodes/pve1/qemu", {"full": "1"})}
    assert full[100]["qmpstatus"] == "running" and "running-qemu" in full[100]


async def test_running_container_status_has_pressures_and_the_resources_memory(pve: PVE) -> None:
    status = await pve.data("GET", "/nodes/pve1/lxc/200/status/current")
    # pve-container src/PVE/LXC.pm vmstatus: the cgroup's pressure for a running CT
    assert all(isinstance(status[k], int | float) for k in ("pressurecpusome", "pressureiofull",
                                                               "pressurememorysome"))
    row = next(r for r in await pve.data("GET", "/cluster/resources", {"type": "vm"}) if r["id"] == "lxc/200")
    assert status["mem"] == row["mem"] > 0  # one figure, whichever call shows it
