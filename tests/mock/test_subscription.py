"""A node's subscription as pve-manager PVE/API2/Subscription.pm answers and checks it."""

from __future__ import annotations

import re

from tests.mock.conftest import PVE


async def test_no_key_reads_notfound_and_a_key_must_fit_the_node(pve: PVE) -> None:
    none = await pve.data("GET", "/nodes/pve1/subscription")
    # Subscription.pm:213-222: no dates, no level, the pricing page
    assert {k: none[k] for k in ("status", "message")} == {"status": "notfound",
                                                          "message": "There is no subscription key"}
    assert "nextduedate" not in none and "key" not in none
    assert await pve.data("POST", "/nodes/pve1/subscription", {"force": "1"}) is None  # :272: nothing to check
    pve.backend.mock.cluster.nodes["pve1"].sockets = 2
    few = await pve.put("/nodes/pve1/subscription", {"key": "pve1s-0123456789"})
    assert few.json()["message"] == "wrong number of sockets (1 < 2)\n"  # :56-58
    assert (await pve.data("GET", "/nodes/pve1/subscription"))["status"] == "notfound"  # nothing was set


async def test_a_set_key_reads_with_dates_that_are_dates_and_force_checks_it_again(pve: PVE) -> None:
    await pve.data("PUT", "/nodes/pve1/subscription", {"key": "  pve2p-0123456789 "})  # trimmed (:336)
    info = await pve.data("GET", "/nodes/pve1/subscription")
    assert (info["status"], info["key"], info["level"], info["sockets"]) == ("active", "pve2p-0123456789", "p", 1)
    assert info["productname"] == "Proxmox VE Premium Subscription 2 CPU/year"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", info["regdate"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", info["nextduedate"]) and info["nextduedate"] > info["regdate"][:10]
    checked = info["checktime"]
    pve.backend.mock.clock.advance(3600)
    await pve.data("POST", "/nodes/pve1/subscription")  # recently checked: kept (:288)
    assert (await pve.data("GET", "/nodes/pve1/subscription"))["checktime"] == checked
    await pve.data("POST", "/nodes/pve1/subscription", {"force": "1"})
    assert (await pve.data("GET", "/nodes/pve1/subscription"))["checktime"] == checked + 3600
    assert (await pve.data("GET", "/nodes/pve2/subscription"))["status"] == "notfound"  # per node
    await pve.data("DELETE", "/nodes/pve1/subscription")
    assert (await pve.data("GET", "/nodes/pve1/subscription"))["status"] == "notfound"
