"""The firewall at cluster, security group, node, VM, CT and vnet level as pve-firewall keeps it
(src/PVE/API2/Firewall/*.pm, src/PVE/Firewall.pm): options, aliases, IP sets, security groups,
references, the log, the indexes, and the rules a missing alias or IP set makes PVE refuse.

Before, aliases and IP set entries were generic collections (an alias renamed nowhere, entries in
creation order, a non-empty IP set deleted), the indexes, refs and log were shaped samples, and a rule
could name any alias or IP set.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from pvegateway.backends.mock.backend import MockOptions
from tests.mock.conftest import PVE, login, mock_app

STALE = "detected modified configuration - file changed by other user? Try again.\n"  # pve-common Tools.pm:872
EMPTY_SHA1 = "da39a3ee5e6b4b0d3255bfef95601890afd80709"  # copy_opject_with_digest of no option
VM = "/nodes/pve1/qemu/100/firewall"
CT = "/nodes/pve1/lxc/200/firewall"


@pytest.fixture
async def pve() -> AsyncIterator[PVE]:
    app = mock_app(MockOptions(secret=b"firewall-secret"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://pve1:8006") as client:
        yield PVE(client, app, await login(client))


def errors(answer: httpx.Response) -> Any:
    assert answer.status_code == 400, answer.text
    return answer.json()["errors"]


def message(answer: httpx.Response) -> str:
    assert answer.status_code == 500, answer.text
    text: str = answer.json()["message"]
    return text


async def test_options_show_what_is_set_with_their_digest(pve: PVE) -> None:
    # Cluster.pm:106, VM.pm:95, Host.pm:89, Vnet.pm:97: copy_opject_with_digest of the file's options,
    # nothing defaulted (the cluster's firewall is off, a guest's not enabled, until set)
    for base in ("/cluster/firewall", "/nodes/pve1/firewall", VM, CT):
        assert await pve.data("GET", f"{base}/options") == {"digest": EMPTY_SHA1}
    await pve.data("PUT", f"{VM}/options", {"enable": "1", "policy_in": "DROP"})
    shown = await pve.data("GET", f"{VM}/options")
    assert {k: v for k, v in shown.items() if k != "digest"} == {"enable": 1, "policy_in": "DROP"}
    stale = await pve.put(f"{VM}/options", {"enable": "0", "digest": EMPTY_SHA1})
    assert message(stale) == STALE
    # Cluster.pm:152-154: an 'enable' above 1 is kept as the time it was set (the GUI's anti-lockout)
    await pve.data("PUT", "/cluster/firewall/options", {"enable": "2"})
    assert (await pve.data("GET", "/cluster/firewall/options"))["enable"] > 1_000_000_000


async def test_the_indexes(pve: PVE) -> None:
    names = [e["name"] for e in await pve.data("GET", "/cluster/firewall")]
    assert names == ["aliases", "rules", "options", "groups", "ipset", "macros", "refs"]  # Cluster.pm:60-66
    assert [e["name"] for e in await pve.data("GET", "/nodes/pve1/firewall")] == ["rules", "options", "log"]


async def test_aliases_keep_pves_names_and_rename(pve: PVE) -> None:
    base = "/cluster/firewall/aliases"
    await pve.data("POST", base, {"name": "Office", "cidr": "192.0.2.0/24", "comment": "hq"})
    await pve.data("POST", base, {"name": "gw", "cidr": "198.51.100.1/32"})
    # Aliases.pm:158-160: the name is compared lowercased
    assert errors(await pve.post(base, {"name": "OFFICE", "cidr": "192.0.2.1"})) == {
        "name": "alias 'OFFICE' already exists"}
    listed = await pve.data("GET", base)
    # sorted by lowercased name; read back as parse_alias reads the file (Firewall.pm:3411-3433): no /32
    assert [(a["name"], a["cidr"], a["ipversion"], a.get("comment")) for a in listed] == [
        ("gw", "198.51.100.1", 4, None), ("Office", "192.0.2.0/24", 4, "hq")]
    assert len({a["digest"] for a in listed}) == 1
    assert await pve.data("GET", f"{base}/office") == {"name": "Office", "cidr": "192.0.2.0/24", "ipversion": 4,
                                                       "comment": "hq"}
    # Aliases.pm:254-268: written anew (no comment given: none), then renamed; not onto another alias
    assert errors(await pve.put(f"{base}/office", {"cidr": "192.0.2.0/25", "rename": "GW"})) == {
        "name": "alias 'GW' already exists"}
    await pve.data("PUT", f"{base}/office", {"cidr": "192.0.2.0/25", "rename": "hq", "digest": listed[0]["digest"]})
    assert await pve.data("GET", f"{base}/hq") == {"name": "hq", "cidr": "192.0.2.0/25", "ipversion": 4}
    assert errors(await pve.get(f"{base}/office")) == {"name": "no such alias"}  # Aliases.pm:202
    assert message(await pve.put(f"{base}/hq", {"cidr": "192.0.2.0/24", "digest": "0" * 40})) == STALE
    await pve.data("DELETE", f"{base}/nothing")  # Aliases.pm:311-313: deleting nothing is no error
    await pve.data("DELETE", f"{base}/HQ")
    assert [a["name"] for a in await pve.data("GET", base)] == ["gw"]


async def test_ip_sets_and_their_entries(pve: PVE) -> None:
    base = "/cluster/firewall/ipset"
    await pve.data("POST", base, {"name": "web", "comment": "front"})
    assert errors(await pve.post(base, {"name": "web"})) == {"name": "IPSet 'web' already exists"}  # IPSet.pm:703
    sets = await pve.data("GET", base)
    assert [(s["name"], s["comment"]) for s in sets] == [("web", "front")] and len(sets[0]["digest"]) == 40
    entries = f"{base}/web"
    await pve.data("POST", entries, {"cidr": "192.0.2.77/24", "comment": "lan"})  # clean_cidr: no host bits
    await pve.data("POST", entries, {"cidr": "10.0.0.1/32", "nomatch": "1"})  # parse_ip_or_cidr: no /32
    # IPSet.pm:222-228: a duplicate after normalization, a zero prefix
    assert errors(await pve.post(entries, {"cidr": "192.0.2.1/24"})) == {
        "cidr": "address '192.0.2.0/24' already exists"}
    assert errors(await pve.post(entries, {"cidr": "0.0.0.0/0"})) == {
        "cidr": "a zero prefix is not allowed in ipset entries"}
    # IPSet.pm:211-215 with Firewall.pm:3388: an alias entry must name an alias
    assert message(await pve.post(entries, {"cidr": "office"})) == "no such alias 'office'\n"
    await pve.data("POST", "/cluster/firewall/aliases", {"name": "office", "cidr": "192.0.2.10"})
    await pve.data("POST", entries, {"cidr": "dc/office"})
    listed = await pve.data("GET", entries)
    # kept as the file writes them back: sorted by address (Firewall.pm:3784-3801)
    assert [(e["cidr"], e.get("nomatch"), e.get("comment")) for e in listed] == [
        ("10.0.0.1", 1, None), ("192.0.2.0/24", None, "lan"), ("dc/office", None, None)]
    one = await pve.data("GET", f"{entries}/192.0.2.0%2F24")
    assert one == {"cidr": "192.0.2.0/24", "comment": "lan", "digest": listed[0]["digest"]}
    await pve.data("PUT", f"{entries}/192.0.2.0%2F24", {"nomatch": "1"})  # IPSet.pm:320-321: comment gone
    digest = (await pve.data("GET", entries))[0]["digest"]
    assert await pve.data("GET", f"{entries}/192.0.2.0%2F24") == {"cidr": "192.0.2.0/24", "nomatch": 1,
                                                                  "digest": digest}
    assert errors(await pve.get(f"{entries}/203.0.113.0%2F24")) == {"cidr": "no such IP/Network"}  # IPSet.pm:280
    # IPSet.pm:163-164: not while it holds entries, unless forced
    assert message(await pve.delete(f"{base}/web")) == "IPSet 'web' is not empty\n"
    # IPSet.pm:679-700: renamed with its entries and comment
    assert errors(await pve.post(base, {"name": "xx", "rename": "nope"})) == {"name": "IPSet 'nope' does not exist"}
    await pve.data("POST", base, {"name": "other"})
    assert errors(await pve.post(base, {"name": "other", "rename": "web"})) == {
        "name": "IPSet 'other' does already exist"}
    await pve.data("POST", base, {"name": "www", "rename": "web"})
    assert [(s["name"], s.get("comment")) for s in await pve.data("GET", base)] == [("other", None), ("www", "front")]
    assert len(await pve.data("GET", f"{base}/www")) == 3
    assert message(await pve.get(f"{base}/web")) == "no such IPSet 'web'\n"  # IPSet.pm:425
    await pve.data("DELETE", f"{base}/www", {"force": "1"})
    assert [s["name"] for s in await pve.data("GET", base)] == ["other"]


async def test_security_groups_list_rename_and_calls_follow(pve: PVE) -> None:
    groups = "/cluster/firewall/groups"
    await pve.data("POST", groups, {"group": "web", "comment": "http"})
    assert errors(await pve.post(groups, {"group": "web"})) == {"group": "Security group 'web' already exists"}
    await pve.data("POST", f"{groups}/web", {"type": "in", "action": "ACCEPT", "proto": "tcp", "dport": "80"})
    await pve.data("POST", "/cluster/firewall/rules", {"type": "group", "action": "web"})
    await pve.data("POST", f"{VM}/rules", {"type": "group", "action": "web"})
    listed = await pve.data("GET", groups)
    assert [(g["group"], g["comment"]) for g in listed] == [("web", "http")]  # Groups.pm:13-28
    # Groups.pm:96-167: renamed, with its rules; every rule calling it now calls the new name
    await pve.data("POST", groups, {"group": "www", "rename": "web", "digest": listed[0]["digest"]})
    assert [g["group"] for g in await pve.data("GET", groups)] == ["www"]
    assert [r["dport"] for r in await pve.data("GET", f"{groups}/www")] == ["80"]
    assert (await pve.data("GET", "/cluster/firewall/rules/0"))["action"] == "www"
    assert (await pve.data("GET", f"{VM}/rules/0"))["action"] == "www"
    assert errors(await pve.post(groups, {"group": "aa", "rename": "web"})) == {
        "group": "Security group 'web' does not exist"}
    await pve.data("POST", groups, {"group": "www", "rename": "www", "comment": "renamed"})
    assert (await pve.data("GET", groups))[0]["comment"] == "renamed"


async def test_references_by_scope(pve: PVE) -> None:
    await pve.data("POST", "/cluster/firewall/aliases", {"name": "Office", "cidr": "192.0.2.0/24", "comment": "hq"})
    await pve.data("POST", "/cluster/firewall/ipset", {"name": "web"})
    await pve.data("POST", f"{VM}/aliases", {"name": "self", "cidr": "192.0.2.100"})
    # Helpers.pm:156-191 collect_refs; Cluster.pm:265-283 (scope 'dc'), VM.pm:302-309 (then 'guest')
    assert await pve.data("GET", "/cluster/firewall/refs") == [
        {"type": "ipset", "name": "web", "ref": "+web", "scope": "dc"},
        {"type": "alias", "name": "office", "ref": "office", "scope": "dc", "comment": "hq"}]
    guest = await pve.data("GET", f"{VM}/refs", {"type": "alias"})
    assert [(r["name"], r["scope"]) for r in guest] == [("office", "dc"), ("self", "guest")]
    assert [r["name"] for r in await pve.data("GET", f"{CT}/refs")] == ["web", "office"]


async def test_rules_naming_a_missing_alias_or_ip_set_are_refused(pve: PVE) -> None:
    rules = "/cluster/firewall/rules"
    rule = {"type": "in", "action": "ACCEPT"}
    # Firewall.pm:1775-1800 verify_rule, raise_param_exc (400 with the parameter's text)
    assert errors(await pve.post(rules, {**rule, "source": "+nope"})) == {"source": "no such ipset 'nope'"}
    assert errors(await pve.post(rules, {**rule, "dest": "office"})) == {"dest": "no such alias 'office'"}
    await pve.data("POST", "/cluster/firewall/aliases", {"name": "office", "cidr": "192.0.2.0/24"})
    await pve.data("POST", "/cluster/firewall/ipset", {"name": "web"})
    await pve.data("POST", rules, {**rule, "source": "+dc/web", "dest": "dc/Office"})
    # a guest's own aliases serve its rules, not the cluster's
    await pve.data("POST", f"{VM}/aliases", {"name": "self", "cidr": "192.0.2.100"})
    await pve.data("POST", f"{VM}/rules", {**rule, "dest": "guest/self"})
    assert errors(await pve.post(rules, {**rule, "dest": "self"})) == {"dest": "no such alias 'self'"}
    assert len(await pve.data("GET", rules)) == 1
    # an update that fails the check changes nothing
    assert errors(await pve.put(f"{rules}/0", {"source": "+gone"})) == {"source": "no such ipset 'gone'"}
    assert (await pve.data("GET", f"{rules}/0"))["source"] == "+dc/web"


async def test_rule_types_and_interfaces_each_level_allows(pve: PVE) -> None:
    # Firewall.pm:1722-1738, :1811-1846
    forward = {"type": "forward", "action": "ACCEPT"}
    assert errors(await pve.post(f"{VM}/rules", forward)) == {"type": "invalid rule type 'forward' for rule_env 'vm'"}
    await pve.data("POST", "/cluster/firewall/groups", {"group": "g1"})
    assert errors(await pve.post("/cluster/firewall/groups/g1", {"type": "group", "action": "g1"})) == {
        "type": "invalid rule type 'group' for rule_env 'group'"}
    assert errors(await pve.post("/nodes/pve1/firewall/rules", {"type": "forward", "action": "REJECT"})) == {
        "action": "cannot define REJECT rules on forward chain"}
    assert errors(await pve.post(f"{VM}/rules", {"type": "in", "action": "ACCEPT", "iface": "eth0"})) == {
        "iface": "value does not match the regex pattern 'net\\d+'"}
    assert errors(await pve.post("/cluster/firewall/groups/g1", {"type": "in", "action": "ACCEPT",
                                                                 "iface": "net0"})) == {
        "type": "parameter -i not allowed for this rule type"}
    assert errors(await pve.post(f"{VM}/rules", {"type": "in", "action": "ACCEPT", "dport": "22"})) == {
        "proto": "missing property - 'dport' requires this property"}
    await pve.data("POST", f"{VM}/rules", {"type": "in", "action": "ACCEPT", "iface": "net0", "proto": "tcp",
                                           "dport": "22"})


async def test_the_log_of_a_firewall_that_dropped_nothing(pve: PVE) -> None:
    for base in ("/nodes/pve1/firewall", VM, CT):
        answer = await pve.get(f"{base}/log", {"start": "0", "limit": "10"})
        # pve-common Tools.pm:790-795: an empty log is one line saying so, total 1
        assert answer.json() == {"data": [{"n": 1, "t": "no content"}], "total": 1}


async def test_refused_firewall_writes_change_nothing(pve: PVE) -> None:
    store = pve.backend.mock.cluster.store
    before = store.dump()
    refused = [
        await pve.post("/cluster/firewall/ipset", {"name": "www", "rename": "nope"}),
        await pve.post("/cluster/firewall/groups", {"group": "www", "rename": "nope"}),
        await pve.post("/cluster/firewall/aliases", {"name": "bad", "cidr": "not-an-address"}),
        await pve.post(f"{VM}/rules", {"type": "in", "action": "ACCEPT", "source": "+nope"}),
        await pve.put(f"{VM}/aliases/nope", {"cidr": "192.0.2.1"}),
    ]
    assert [r.status_code for r in refused] == [400, 400, 400, 400, 400]
    assert store.dump() == before
