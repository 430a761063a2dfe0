"""The configuration store is part of the cluster: the control API's dump shows it (under ``store``), a
reset gives back the seeded cluster's, and ``--state`` carries it across a restart. (Whether a reset
gives back the whole seeded dump, volumes and tokens included, is snapshot.py's and tested with it.)
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pvegateway.backends.mock.backend import MockOptions
from tests.mock.conftest import PVE, login, mock_app

CONTROL = "store-state-test-control-key-0123456789"


async def _populate(pve: PVE) -> None:
    """One object of each kind the store keeps: a section item, a nested one, a positional rule, a
    singleton, a shared collection's item (an interface) and a guest's firewall."""
    await pve.data("POST", "/cluster/sdn/zones", {"zone": "z1", "type": "simple"})
    await pve.data("POST", "/cluster/firewall/ipset", {"name": "office"})
    await pve.data("POST", "/cluster/firewall/ipset/office", {"cidr": "192.0.2.0/24"})
    await pve.data("POST", "/cluster/firewall/rules", {"type": "in", "action": "ACCEPT"})
    await pve.data("PUT", "/cluster/firewall/options", {"enable": "1"})
    await pve.data("PUT", "/cluster/options", {"keyboard": "de"})
    await pve.data("POST", "/nodes/pve1/network", {"iface": "vmbr5", "type": "bridge"})
    await pve.data("POST", "/nodes/pve1/qemu/100/firewall/rules", {"type": "in", "action": "DROP"})


@pytest.fixture
async def ctl() -> AsyncIterator[PVE]:
    app = mock_app(MockOptions(secret=b"state-secret", control_key=CONTROL))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://pve1:8006") as client:
        yield PVE(client, app, await login(client))


async def _dump(pve: PVE) -> dict[str, Any]:
    response = await pve.client.get("/_gateway/state", headers={"Authorization": f"Bearer {CONTROL}"})
    assert response.status_code == 200
    dump = response.json()
    assert isinstance(dump, dict)
    return dump


async def test_the_dump_shows_the_store_and_a_reset_gives_the_seeded_store_back(ctl: PVE) -> None:
    seeded = await _dump(ctl)
    assert seeded["store"] == {"sections": {}, "singletons": {}, "lists": {}, "serial": 0, "running": {}}
    await _populate(ctl)
    store = (await _dump(ctl))["store"]
    assert store["sections"]["/cluster/sdn/zones"] == {"z1": {"type": "simple"}}
    # an IP set's name in the set list, its entries a list of their own (pve-firewall's [IPSET] section)
    assert store["sections"]["/cluster/firewall/ipset"] == {"office": {}}
    assert store["lists"]["/cluster/firewall/ipset/office"] == [{"cidr": "192.0.2.0/24"}]
    assert store["lists"]["/vms/100/firewall/rules"] == [{"type": "in", "action": "DROP", "enable": 0}]
    assert store["singletons"]["/cluster/firewall/options"] == {"enable": 1}
    assert "vmbr5" in store["sections"]["/nodes/pve1/network"]
    response = await ctl.client.post("/_gateway/reset", headers={"Authorization": f"Bearer {CONTROL}"})
    assert response.status_code == 200
    after = await _dump(ctl)
    assert (after["store"], after["options"]) == (seeded["store"], seeded["options"])
    assert await ctl.data("GET", "/cluster/sdn/zones") == []
    assert "vmbr5" not in [i["iface"] for i in await ctl.data("GET", "/nodes/pve1/network")]


async def test_the_store_survives_a_restart_through_the_state_file(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    first = mock_app(MockOptions(secret=b"x", state_file=state, control_key=CONTROL))
    async with first.lifespan(), httpx.AsyncClient(transport=httpx.ASGITransport(app=first),
                                                   base_url="https://pve1:8006") as client:
        pve = PVE(client, first, await login(client))
        await _populate(pve)
        before = (await _dump(pve))["store"]
    second = mock_app(MockOptions(secret=b"x", state_file=state, control_key=CONTROL))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=second), base_url="https://pve1:8006") as client:
        pve = PVE(client, second, await login(client))
        assert (await _dump(pve))["store"] == before
        rules = await pve.data("GET", "/nodes/pve1/qemu/100/firewall/rules")
        assert [(r["pos"], r["action"]) for r in rules] == [(0, "DROP")]
        assert (await pve.data("GET", "/cluster/options"))["keyboard"] == "de"
