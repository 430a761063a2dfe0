"""Firewall rules at every level keep PVE's positions (pve-firewall src/PVE/API2/Firewall/Rules.pm): a new
rule goes first, ``pos`` is the index, every rule answered carries its integer ``pos`` and the list's
``digest``, ``moveto`` moves, a stale digest and a missing position are refused in PVE's words.

Before the configuration store a rule posted without ``pos`` was dropped, one with ``pos`` 0 could not
be followed by another (``pos '0' already exists``) and guests' rules answered ``vmid '100' does not exist``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from pvegateway.backends.mock.backend import MockOptions
from tests.mock.conftest import PVE, login, mock_app

STALE = "detected modified configuration - file changed by other user? Try again.\n"  # pve-common Tools.pm:872
LEVELS = ["/cluster/firewall/rules", "/cluster/firewall/groups/g1", "/nodes/pve1/firewall/rules",
          "/nodes/pve1/qemu/100/firewall/rules", "/nodes/pve1/lxc/200/firewall/rules",
          "/cluster/sdn/vnets/vnet1/firewall/rules"]


@pytest.fixture
async def pve() -> AsyncIterator[PVE]:
    app = mock_app(MockOptions(secret=b"rules-secret"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://pve1:8006") as client:
        pve = PVE(client, app, await login(client))
        await pve.data("POST", "/cluster/firewall/groups", {"group": "g1"})
        await pve.data("POST", "/cluster/sdn/zones", {"zone": "zone1", "type": "simple"})
        await pve.data("POST", "/cluster/sdn/vnets", {"vnet": "vnet1", "zone": "zone1"})
        yield pve


async def _rules(pve: PVE, base: str) -> list[dict[str, Any]]:
    rules = await pve.data("GET", base)
    assert isinstance(rules, list)
    return rules


def _types(base: str) -> tuple[str, str]:
    """Two rule types the level allows: a vnet's rules are forward rules (Firewall.pm:1731-1738)."""
    return ("forward", "forward") if "/vnets/" in base else ("in", "out")


@pytest.mark.parametrize("base", LEVELS)
async def test_rules_are_a_positional_list(pve: PVE, base: str) -> None:
    first, second = _types(base)
    await pve.data("POST", base, {"type": first, "action": "ACCEPT", "proto": "tcp", "dport": "22"})
    await pve.data("POST", base, {"type": second, "action": "DROP", "enable": "1", "pos": "5"})
    rules = await _rules(pve, base)
    # Rules.pm:306-308: unshift, 'enable' 0 unless given; :196-201: pos by index, one digest for all
    assert [(r["pos"], r["type"], r["action"], r["enable"]) for r in rules] == [(0, second, "DROP", 1),
                                                                                (1, first, "ACCEPT", 0)]
    digest = rules[0]["digest"]
    assert len(digest) == 40 and rules[1]["digest"] == digest
    one = await pve.data("GET", f"{base}/1")
    assert (one["pos"], one["dport"], one["digest"]) == (1, "22", digest)  # Rules.pm:239-246
    stale = await pve.put(f"{base}/0", {"comment": "x", "digest": "0" * 40})
    assert stale.json()["message"] == STALE  # Rules.pm:369-370
    await pve.data("PUT", f"{base}/0", {"moveto": "2", "digest": digest})  # Rules.pm:377-388: past the end
    assert [r["action"] for r in await _rules(pve, base)] == ["ACCEPT", "DROP"]
    await pve.data("PUT", f"{base}/1", {"comment": "web", "delete": "enable"})
    moved = await pve.data("GET", f"{base}/1")
    assert moved["comment"] == "web" and "enable" not in moved
    required = await pve.put(f"{base}/1", {"delete": "action"})  # pve-firewall Firewall.pm:1654-1655
    assert required.json()["errors"] == {"delete": "unable to delete required property 'action'"}
    for method in ("GET", "PUT", "DELETE"):
        missing = await pve.request(method, f"{base}/5")
        assert missing.json()["message"] == "no rule at position 5\n"  # Rules.pm:241, :372, :461
    await pve.data("DELETE", f"{base}/0")
    assert [(r["pos"], r["action"]) for r in await _rules(pve, base)] == [(0, "DROP")]


async def test_a_security_group_holding_rules_stays_and_a_missing_one_is_named(pve: PVE) -> None:
    await pve.data("POST", "/cluster/firewall/groups/g1", {"type": "in", "action": "ACCEPT"})
    refused = await pve.delete("/cluster/firewall/groups/g1")
    assert refused.json()["message"] == "Security group 'g1' is not empty\n"  # Rules.pm:555
    await pve.data("DELETE", "/cluster/firewall/groups/g1/0")
    await pve.data("DELETE", "/cluster/firewall/groups/g1")
    missing = await pve.get("/cluster/firewall/groups/g1")
    assert missing.json()["message"] == "no such security group 'g1'\n"  # Rules.pm:512


async def test_a_guests_firewall_is_kept_by_vmid_and_goes_with_the_guest(pve: PVE) -> None:
    """pve-firewall keeps firewall/<vmid>.fw whatever node the guest is on (Firewall.pm:3678-3695), a
    clone copies it (qemu-server Qemu.pm:4617), a destroy removes it (Qemu.pm:2873)."""
    await pve.data("POST", "/nodes/pve2/qemu/101/firewall/rules", {"type": "in", "action": "ACCEPT"})
    await pve.data("PUT", "/nodes/pve2/qemu/101/firewall/options", {"enable": "1"})
    await pve.data("POST", "/nodes/pve2/qemu/101/clone", {"newid": "301"})
    assert [r["action"] for r in await _rules(pve, "/nodes/pve2/qemu/301/firewall/rules")] == ["ACCEPT"]
    assert (await pve.data("GET", "/nodes/pve2/qemu/301/firewall/options"))["enable"] == 1
    await pve.data("DELETE", "/nodes/pve2/qemu/101")
    await pve.data("POST", "/nodes/pve2/qemu", {"vmid": "101", "memory": "512"})
    assert await _rules(pve, "/nodes/pve2/qemu/101/firewall/rules") == []
    assert await _rules(pve, "/nodes/pve2/qemu/301/firewall/rules") != []
