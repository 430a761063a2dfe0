"""Singletons (datacenter.cfg, a node's DNS, hosts, config and time, the firewall's options at every
level): what a PUT (or the hosts file's POST) sets, a GET shows; ``delete`` drops it; a stale digest is
refused. Before the configuration store none of them kept anything: ``PUT /cluster/options`` changed
nothing and ``GET /cluster/options`` answered ``{}``, the firewall options were sampled strings.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx
import pytest

from pvegateway.apidoc.operation import Operation
from pvegateway.backends.mock.backend import MockOptions
from tests.mock.conftest import mock_app
from tests.mock.test_zero_privilege import CONTROL, Walk
from tests.mock.walking import call, parameters, root_walk

STALE = "detected modified configuration - file changed by other user? Try again.\n"  # pve-common Tools.pm:872

# PVE's singletons in the 9.2 tree: a GET of the options next to the write that sets them
SINGLETONS: Mapping[str, tuple[str, str, Any]] = {
    # template: (the setter's method, an option it sets, a value)
    "/cluster/options": ("PUT", "keyboard", "de"),  # pve-manager PVE/API2/Cluster.pm set_options
    "/cluster/firewall/options": ("PUT", "policy_in", "DROP"),  # pve-firewall API2/Firewall/Cluster.pm
    "/cluster/sdn/vnets/{vnet}/firewall/options": ("PUT", "policy_forward", "DROP"),  # Firewall/Vnet.pm
    "/nodes/{node}/firewall/options": ("PUT", "log_level_in", "info"),  # pve-firewall Firewall/Host.pm
    "/nodes/{node}/qemu/{vmid}/firewall/options": ("PUT", "policy_in", "REJECT"),  # Firewall/VM.pm:99-158
    "/nodes/{node}/lxc/{vmid}/firewall/options": ("PUT", "macfilter", 0),  # Firewall/VM.pm
    "/nodes/{node}/config": ("PUT", "description", "rack 4"),  # pve-manager PVE/API2/NodeConfig.pm
    "/nodes/{node}/dns": ("PUT", "search", "corp.example"),  # pve-manager PVE/API2/Nodes.pm (dns)
    "/nodes/{node}/hosts": ("POST", "data", "127.0.0.1 localhost\n"),  # pve-manager PVE/API2/Nodes.pm
    "/nodes/{node}/time": ("PUT", "timezone", "Europe/Vienna"),  # pve-manager PVE/API2/Nodes.pm:1705
    "/nodes/{node}/subscription": ("PUT", "key", "pve4c-0123456789"),  # pve-manager API2/Subscription.pm
}


@pytest.fixture
async def walk() -> AsyncIterator[Walk]:
    app = mock_app(MockOptions(secret=b"walk-secret", control_key=CONTROL))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://pve1:8006") as client:
        yield await root_walk(app, client)


def _ops(walk: Walk) -> dict[str, Operation]:
    return {op.key: op for op in walk.app.schema.operations}


async def test_every_singleton_keeps_what_is_set(walk: Walk) -> None:
    ops = _ops(walk)
    assert set(SINGLETONS) == set(walk.backend.store.layout.singletons)
    problems = []
    for template, (method, option, value) in SINGLETONS.items():
        walk.restore()
        show, setter = ops[f"GET {template}"], ops[f"{method} {template}"]
        where = {k: v for k, v in parameters(walk, show).items() if k in show.path_params}
        before = await call(walk, show, where)
        assert before.status_code == 200, (template, before.text)
        takes = setter.parameters.get("properties") or {}
        digest = before.json()["data"].get("digest")
        if "digest" in takes and digest is not None:
            stale = await call(walk, setter, {**where, option: value, "digest": "0" * 40})
            if stale.json().get("message") != STALE:
                problems.append(f"{template}: a stale digest answered {stale.status_code} {stale.text}")
        given = {**where, option: value, **({"digest": digest} if "digest" in takes and digest else {})}
        response = await call(walk, setter, given)
        if response.status_code != 200:
            problems.append(f"{template}: {method} {response.status_code} {response.text}")
            continue
        shown = (await call(walk, show, where)).json()["data"]
        if str(shown.get(option)) != str(value):
            problems.append(f"{template}: set {option}={value!r}, shows {shown}")
        if "delete" in takes:
            await call(walk, setter, {**where, "delete": option})
            if option in (await call(walk, show, where)).json()["data"]:
                problems.append(f"{template}: delete={option} kept it")
    assert not problems, "\n".join(problems)


async def test_datacenter_options_are_the_ones_the_cluster_reads(walk: Walk) -> None:
    """``PUT /cluster/options`` writes datacenter.cfg, which GET /cluster/options and the next free VMID
    read (pve-manager PVE/API2/Cluster.pm:1031-1053 honours next-id)."""
    walk.restore()
    client, headers = walk.client, walk.headers
    response = await client.put("/api2/json/cluster/options", data={"next-id": "lower=5000,upper=6000",
                                                                    "keyboard": "de"}, headers=headers)
    assert response.status_code == 200, response.text
    shown = (await client.get("/api2/json/cluster/options", headers=headers)).json()["data"]
    assert shown["keyboard"] == "de" and shown["next-id"] == "lower=5000,upper=6000"
    assert (await client.get("/api2/json/cluster/nextid", headers=headers)).json()["data"] == "5000"
    await client.put("/api2/json/cluster/options", data={"delete": "keyboard"}, headers=headers)
    assert "keyboard" not in (await client.get("/api2/json/cluster/options", headers=headers)).json()["data"]


async def test_a_fresh_node_shows_its_resolver_hosts_time_and_no_subscription(walk: Walk) -> None:
    """What an installed node has: resolv.conf, /etc/hosts with its own name, its clock (Nodes.pm:1690-
    1699), and no subscription (pve-manager PVE/API2/Subscription.pm:220-229: 'notfound', no invented
    due date for an exporter to parse)."""
    walk.restore()
    client, headers = walk.client, walk.headers
    dns = (await client.get("/api2/json/nodes/pve2/dns", headers=headers)).json()["data"]
    assert dns == {"search": "example.com", "dns1": "192.0.2.1"}
    hosts = (await client.get("/api2/json/nodes/pve2/hosts", headers=headers)).json()["data"]
    assert "192.0.2.12 pve2.example.com pve2\n" in hosts["data"] and len(hosts["digest"]) == 40
    clock = walk.backend.mock.clock.now()
    assert (await client.get("/api2/json/nodes/pve2/time", headers=headers)).json()["data"] == {
        "timezone": "UTC", "time": clock, "localtime": clock}
    subscription = (await client.get("/api2/json/nodes/pve2/subscription", headers=headers)).json()["data"]
    assert subscription["status"] == "notfound" and "nextduedate" not in subscription
    assert subscription["message"] == "There is no subscription key"
    await client.put("/api2/json/nodes/pve2/subscription", data={"key": "pve2b-0123456789"}, headers=headers)
    subscription = (await client.get("/api2/json/nodes/pve2/subscription", headers=headers)).json()["data"]
    assert (subscription["status"], subscription["level"]) == ("active", "b")
    assert len(subscription["nextduedate"]) == 10 and subscription["nextduedate"][4] == "-"  # a date
