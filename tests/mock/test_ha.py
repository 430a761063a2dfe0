"""HA in PVE 9.x's model (pve-ha-manager): resources, rules instead of groups, migrate/relocate requests
that the CRM carries out, and the manager's status following them; PVE's texts, statuses and shapes."""

from __future__ import annotations

from typing import Any

from tests.mock.conftest import PVE

RES = "/cluster/ha/resources"
RULES = "/cluster/ha/rules"


async def message(pve: PVE, method: str, path: str, data: dict[str, Any] | None = None) -> tuple[int, str]:
    response = await pve.request(method, path, data)
    return response.status_code, response.json()["message"]


async def managed(pve: PVE, *sids: str) -> None:
    for sid in sids:
        await pve.data("POST", RES, {"sid": sid})


async def test_resource_texts(pve: PVE) -> None:
    """pve-ha-manager src/PVE/API2/HA/Resources.pm and src/PVE/HA/Config.pm, cited per line."""
    # Config.pm:203 (the pre-5.1.2 typo 'unable do detect' fixed)
    assert await message(pve, "POST", RES, {"sid": "999"}) == (
        500, "unable to detect SID from VMID - VM/CT 999 does not exist\n")
    # Resources/PVEVM.pm:64, PVECT.pm:64
    assert await message(pve, "POST", RES, {"sid": "ct:100"}) == (
        500, "resource 'ct:100' - guest with ID 100 is not a container\n")
    assert await message(pve, "POST", RES, {"sid": "vm:200"}) == (
        500, "resource 'vm:200' - guest with ID 200 is not a VM\n")
    # pve-common SectionConfig.pm:993 (PVE::HA::Resources->lookup)
    assert await message(pve, "POST", RES, {"sid": "fs:100"}) == (500, "unknown section type 'fs'\n")
    # Resources.pm:202-203: a 9.x cluster has no HA groups left
    assert await message(pve, "POST", RES, {"sid": "vm:100", "group": "g1"}) == (
        500, "invalid parameter 'group': ha groups have been migrated to rules\n")
    await managed(pve, "vm:100")
    # Resources.pm:27 (a plain die, not a parameter error)
    assert await message(pve, "GET", f"{RES}/vm:101") == (500, "no such resource 'vm:101'\n")
    # Config.pm:145, :158, :174 under 'update resources config failed' (:185)
    assert await message(pve, "PUT", f"{RES}/vm:101", {"comment": "x"}) == (
        500, "update resources config failed: no such resource 'vm:101'\n")
    assert await message(pve, "PUT", f"{RES}/vm:100", {"delete": "bogus"}) == (
        500, "update resources config failed: no such option 'bogus'\n")
    assert await message(pve, "PUT", f"{RES}/vm:100", {"comment": "x", "digest": "0" * 40}) == (
        500, "update resources config failed: detected modified configuration - file changed by other user? "
             "Try again.\n")
    # Resources.pm:314
    assert await message(pve, "DELETE", f"{RES}/vm:101") == (500, "cannot delete service 'vm:101', not HA managed!\n")


async def test_rules_node_and_resource_affinity(pve: PVE) -> None:
    """src/PVE/API2/HA/Rules.pm:264-302 and the rule plugins' feasibility checks, blamed on 'resources' in
    a 400 exception that lock_ha_domain (Config.pm:317) turns into a plain die of its string form."""
    await managed(pve, "vm:100", "vm:101", "ct:200")
    await pve.data("POST", RULES, {"rule": "keep", "type": "node-affinity", "resources": "vm:101,vm:100",
                                   "nodes": "pve2,pve1:2", "strict": "1"})
    listed = await pve.data("GET", RULES)
    assert len(listed) == 1
    rule = listed[0]
    # written back sorted (Rules.pm:238-250, NodeAffinity.pm:115-135), numbered in order (Rules.pm:32)
    assert (rule["rule"], rule["resources"], rule["nodes"], rule["strict"], rule["order"]) == (
        "keep", "vm:100,vm:101", "pve1:2,pve2", 1, 1)
    # NodeAffinity.pm:244-245
    assert await message(pve, "POST", RULES, {"rule": "again", "type": "node-affinity", "resources": "vm:100",
                                              "nodes": "pve3"}) == (
        500, "create ha rule failed: 400 Rule 'again' is invalid.\n"
             "resources: resource 'vm:100' is already used in another node affinity rule\n")
    # ResourceAffinity.pm:170-171
    assert await message(pve, "POST", RULES, {"rule": "alone", "type": "resource-affinity", "resources": "ct:200",
                                              "affinity": "negative"}) == (
        500, "create ha rule failed: 400 Rule 'alone' is invalid.\n"
             "resources: rule is ineffective as there are less than two resources\n")
    # Rules.pm:57-58
    assert await message(pve, "POST", RULES, {"rule": "r2", "type": "resource-affinity",
                                              "resources": "vm:100,vm:555", "affinity": "positive"}) == (
        500, "create ha rule failed: cannot use unmanaged resource(s) vm:555.\n")
    # Rules.pm:651-653 (global): multiple priorities in a node affinity rule of these resources
    assert await message(pve, "POST", RULES, {"rule": "apart", "type": "resource-affinity",
                                              "resources": "vm:100,ct:200", "affinity": "negative"}) == (
        500, "create ha rule failed: 400 Rule 'apart' is invalid.\n"
             "resources: resources are in node affinity rules with multiple priorities\n")
    await pve.data("PUT", f"{RULES}/keep", {"type": "node-affinity", "nodes": "pve1,pve2"})
    await pve.data("POST", RULES, {"rule": "apart", "type": "resource-affinity", "resources": "vm:100,ct:200",
                                   "affinity": "negative"})
    # ResourceAffinity.pm:274-278: the same two resources cannot be kept together and apart
    assert await message(pve, "POST", RULES, {"rule": "close", "type": "resource-affinity",
                                              "resources": "vm:100,ct:200", "affinity": "positive"}) == (
        500, "create ha rule failed: 400 Rule 'close' is invalid.\n"
             "resources: rule shares two or more resources with a negative resource affinity rule\n")
    # Rules.pm:340 and :358
    assert await message(pve, "PUT", f"{RULES}/nope", {"type": "node-affinity", "comment": "x"}) == (
        500, "update HA rules failed: HA rule 'nope' does not exist\n")
    assert [r["rule"] for r in await pve.data("GET", RULES, {"resource": "ct:200"})] == ["apart"]
    assert [r["rule"] for r in await pve.data("GET", RULES, {"type": "node-affinity"})] == ["keep"]
    # Config.pm:450-458: purge (the default) takes the resource out of its rules, dropping emptied ones
    await pve.data("DELETE", f"{RES}/ct:200")
    assert {r["rule"]: r["resources"] for r in await pve.data("GET", RULES)} == {
        "keep": "vm:100,vm:101", "apart": "vm:100"}


async def test_migrate_and_relocate_move_the_guest(pve: PVE) -> None:
    """src/PVE/API2/HA/Resources.pm:393-519: the answer names the resources that go along and those that
    block; the CRM moves the resource (and its positive-affinity partners) to the requested node."""
    await managed(pve, "vm:100", "vm:101", "ct:200")
    # the resource, not HA-managed (Config.pm:487)
    pve.backend.mock.cluster.ha.pop("ct:200")
    assert await message(pve, "POST", f"{RES}/ct:200/migrate", {"node": "pve2"}) == (
        500, "resource 'ct:200' is not HA managed\n")
    await managed(pve, "ct:200")
    await pve.data("POST", RULES, {"rule": "pair", "type": "resource-affinity", "resources": "vm:100,ct:200",
                                   "affinity": "positive"})
    answer = await pve.data("POST", f"{RES}/vm:100/migrate", {"node": "pve3"})
    assert answer == {"sid": "vm:100", "requested-node": "pve3", "comigrated-resources": ["ct:200"]}
    placed = {r["id"]: r["node"] for r in await pve.data("GET", "/cluster/resources", {"type": "vm"})}
    assert placed["qemu/100"] == "pve3" and placed["lxc/200"] == "pve3"
    assert (await pve.data("GET", "/nodes/pve3/qemu/100/status/current"))["status"] == "running"
    services = {s["sid"]: s for s in await pve.data("GET", "/cluster/ha/status/current") if s["type"] == "service"}
    assert services["vm:100"]["node"] == "pve3" and services["vm:100"]["status"] == "vm:100 (pve3, started)"
    # a negative rule: VM 101 (on pve2) blocks VM 100's move to pve2, and nothing moves (Config.pm:415-429)
    await pve.data("POST", RULES, {"rule": "split", "type": "resource-affinity", "resources": "vm:100,vm:101",
                                   "affinity": "negative"})
    blocked = await pve.data("POST", f"{RES}/vm:100/relocate", {"node": "pve2"})
    assert blocked == {"sid": "vm:100", "requested-node": "pve2", "comigrated-resources": ["ct:200"],
                       "blocking-resources": [{"sid": "vm:101", "cause": "resource-affinity"}]}
    assert pve.backend.mock.cluster.guests[100].node == "pve3"
    moved = await pve.data("POST", f"{RES}/100/relocate", {"node": "pve1"})
    assert moved["sid"] == "vm:100" and pve.backend.mock.cluster.guests[100].node == "pve1"
    manager = (await pve.data("GET", "/cluster/ha/status/manager_status"))["manager_status"]
    assert manager["service_status"]["vm:100"]["node"] == "pve1"
    assert manager["node_status"] == {"pve1": "online", "pve2": "online", "pve3": "online"}


async def test_manager_status_rows(pve: PVE) -> None:
    """src/PVE/API2/HA/Status.pm:166-358: quorum, then (once a CRM is master) master, fencing, lrm rows."""
    idle = await pve.data("GET", "/cluster/ha/status/current")
    assert [(r["id"], r["status"]) for r in idle] == [("quorum", "OK"), ("fencing", "standby (CRM watchdog standby)")]
    await managed(pve, "vm:101")
    rows = {r["id"]: r for r in await pve.data("GET", "/cluster/ha/status/current")}
    assert rows["master"]["node"] == "pve1" and rows["fencing"]["armed-state"] == "armed"
    assert rows["lrm:pve2"]["status"].startswith("pve2 (active, watchdog active, ")
    assert rows["lrm:pve3"]["status"].startswith("pve3 (idle, watchdog standby, ")
    # Tools.pm:240-244: a started resource whose guest does not run yet is 'starting'
    service = rows["service:vm:101"]
    assert (service["state"], service["crm_state"], service["request_state"], service["failback"]) == (
        "starting", "started", "started", 1)
