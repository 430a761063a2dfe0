"""Nodes: the index, status, version and network."""

from __future__ import annotations

from tests.mock.conftest import PVE


async def test_nodes_index(pve: PVE) -> None:
    data = await pve.data("GET", "/nodes")
    assert [n["node"] for n in data] == ["pve1", "pve2", "pve3"]
    first = data[0]
    assert first["status"] == "online" and first["maxcpu"] == 8 and first["mem"] <= first["maxmem"]
    assert len(first["ssl_fingerprint"].split(":")) == 32


async def test_memory_follows_running_guests(pve: PVE) -> None:
    before = (await pve.data("GET", "/nodes/pve1/status"))["memory"]["used"]
    pve.backend.mock.cluster.guests[100].status = "stopped"
    after = (await pve.data("GET", "/nodes/pve1/status"))["memory"]["used"]
    assert after < before


async def test_status_and_version(pve: PVE) -> None:
    status = await pve.data("GET", "/nodes/pve2/status")
    assert status["pveversion"].startswith("pve-manager/9.") and status["cpuinfo"]["cpus"] == 8
    version = await pve.data("GET", "/nodes/pve2/version")
    assert set(version) == {"version", "release", "repoid"}


async def test_unknown_node_is_pves_500(pve: PVE) -> None:
    response = await pve.get("/nodes/nope/status")
    assert response.status_code == 500
    assert response.json()["message"].startswith("hostname lookup 'nope' failed")


async def test_network(pve: PVE) -> None:
    data = await pve.data("GET", "/nodes/pve1/network")
    assert "vmbr0" in {i["iface"] for i in data}
    bridges = await pve.data("GET", "/nodes/pve1/network", {"type": "bridge"})
    assert [b["iface"] for b in bridges] == ["vmbr0"]
    vmbr0 = await pve.data("GET", "/nodes/pve1/network/vmbr0")
    assert vmbr0["type"] == "bridge" and vmbr0["address"] == "192.0.2.11"
    missing = await pve.get("/nodes/pve1/network/vmbr9")
    assert missing.status_code == 400
