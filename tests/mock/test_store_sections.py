"""Section-config collections (storage.cfg-like), found in PVE 9.2's tree itself, round-trip: create with
the id parameter, list, read with the file's ``digest``, update under the digest and with ``delete``,
refuse a duplicate and a stale digest, remove, and then say the item is gone, with PVE's texts.

A collection is a ``T`` whose ``POST`` takes the ``x`` of a child ``T/{x}`` (or whose items are made by a
``POST`` on ``T/{x}`` itself); the ones the realistic handlers keep (users, pools, storages, guests...)
are tested with those handlers. Parameters are the zero-privilege walk's (valid for the validator).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from pvegateway.apidoc.operation import Operation
from pvegateway.backends.mock.backend import MockOptions
from tests.mock.conftest import mock_app
from tests.mock.test_zero_privilege import CONTROL, Walk
from tests.mock.walking import call, parameters, root_walk

STALE = "detected modified configuration - file changed by other user? Try again.\n"  # pve-common Tools.pm:872
# collections that check the digest under a lock with an error prefix: pve-ha-manager src/PVE/API2/HA/Rules.pm:338+358
STALE_UNDER: Mapping[str, str] = {"/cluster/ha/rules": "update HA rules failed: "}

# PVE's texts: (duplicate create, read of a missing item); {id} is the item's id
TEXTS: Mapping[str, tuple[str, str]] = {
    # pve-network src/PVE/API2/Network/SDN/Zones.pm:418+444, src/PVE/Network/SDN/Zones.pm:38
    "/cluster/sdn/zones": ("create sdn zone object failed: sdn zone object ID '{id}' already defined",
                           "sdn '{id}' does not exist"),
    # pve-network SDN/Subnets.pm:231+242, Network/SDN/Subnets.pm:25
    "/cluster/sdn/vnets/{vnet}/subnets": ("create sdn subnet object failed: sdn subnet object ID '{id}' already "
                                          "defined", "sdn subnet '{id}' does not exist"),
    # pve-network SDN/Controllers.pm:309+318, Network/SDN/Controllers.pm:31
    "/cluster/sdn/controllers": ("create sdn controller object failed: sdn controller object ID '{id}' already "
                                 "defined", "sdn '{id}' does not exist"),
    # pve-network SDN/Dns.pm:154+165, Network/SDN/Dns.pm:24
    "/cluster/sdn/dns": ("create sdn dns object failed: sdn dns object ID '{id}' already defined",
                         "sdn '{id}' does not exist"),
    # pve-manager PVE/API2/Cluster/Mapping/PCI.pm:175, :210+217
    "/cluster/mapping/pci": ("create hardware mapping failed: pci ID '{id}' already defined",
                             "mapping '{id}' not found"),
    # pve-manager PVE/API2/Cluster/Mapping/Dir.pm:178, :216+223
    "/cluster/mapping/dir": ("create directory mapping failed: dir ID '{id}' already defined",
                             "mapping '{id}' not found"),
    # pve-manager PVE/API2/Cluster/MetricServer.pm:136, :169
    "/cluster/metrics/server": ("Metric server '{id}' already exists", "status server entry '{id}' does not exist"),
    # pve-manager PVE/API2/ReplicationConfig.pm:107, :177
    "/cluster/replication": ("replication job '{id}' already exists", "no such replication job '{id}'"),
    # pve-ha-manager src/PVE/API2/HA/Rules.pm:25, :286+298
    "/cluster/ha/rules": ("create ha rule failed: HA rule '{id}' already defined", "no such ha rule '{id}'"),
    # pve-manager PVE/API2/ACMEPlugin.pm:44, :154
    "/cluster/acme/plugins": ("ACME plugin ID '{id}' already exists", "ACME plugin '{id}' not defined"),
    # pve-manager PVE/API2/Cluster/Qemu/CustomCPUModels.pm:98; qemu-server src/PVE/QemuServer/CPUConfig.pm:636
    "/cluster/qemu/custom-cpu-models": ("custom CPU model '{id}' already exists", "Custom cputype '{id}' not found"),
    # pve-access-control src/PVE/API2/Domains.pm:152+193, :318
    "/access/domains": ("add auth server failed: domain '{id}' already exists", "domain '{id}' does not exist"),
    # pve-firewall src/PVE/API2/Firewall/IPSet.pm:703 (a parameter error), :425
    "/cluster/firewall/ipset": ("IPSet '{id}' already exists", "no such IPSet '{id}'"),
    # pve-firewall src/PVE/API2/Firewall/Aliases.pm:160, :202 (parameter errors)
    "/cluster/firewall/aliases": ("alias '{id}' already exists", "no such alias"),
}
# created with what the walk's parameters leave out (the walk names objects; these make them valid)
CREATE: Mapping[str, Mapping[str, Any]] = {
    "/access/domains": {"realm": "ldap1", "type": "ldap", "base_dn": "dc=example", "user_attr": "uid",
                        "server1": "ldap.example.com"},
    "/cluster/replication": {"id": "101-0", "target": "pve1", "type": "local"},  # 100-0: prepared by the walk
    "/cluster/ha/groups": {},  # see test_ha_groups_of_a_9x_cluster_are_rules
    "/cluster/backup": {"schedule": "daily", "all": "1"},  # pve-manager PVE/API2/Backup.pm:108-120, :342
    "/nodes/{node}/network": {"iface": "vmbr7", "type": "bridge"},
    "/cluster/sdn/zones": {"zone": "zone2", "type": "simple"},
    "/cluster/sdn/vnets": {"vnet": "vnet2", "zone": "zone1"},
    "/cluster/sdn/ipams": {"ipam": "ipam2", "type": "pve"},
    "/cluster/config/nodes": {"node": "pve4"},
}
# objects a collection lives in, made first (with the walk's parameters)
INSIDE: Mapping[str, tuple[str, Mapping[str, Any]]] = {
    "/cluster/sdn/fabrics/node/{fabric_id}": ("/cluster/sdn/fabrics/fabric", {"id": "fab1"}),
}


@dataclass(frozen=True)
class Collection:
    template: str
    param: str
    create: Operation
    ops: Mapping[str, Operation]  # the item's operations by method, and 'LIST'


def _collections(walk: Walk) -> list[Collection]:
    by_key = {op.key: op for op in walk.app.schema.operations}
    paths = {op.path for op in walk.app.schema.operations}
    handled = {f"{m} {p}" for m, p in walk.backend.routes}
    found = []
    for path in sorted(paths):
        head, _, last = path.rpartition("/")
        if not last.startswith("{") or last == "{pos}":
            continue
        param = last[1:-1]
        post, post_item = by_key.get(f"POST {head}"), by_key.get(f"POST {path}")
        creates = post if post is not None and param in (post.parameters.get("properties") or {}) else None
        if creates is None and post is None and post_item is not None and f"GET {head}" in by_key \
                and not any(p.startswith(path + "/{") for p in paths):
            creates = post_item
        if creates is None or (creates.key in handled and head not in ("/access/domains", "/nodes/{node}/network")):
            continue
        if head == "/cluster/sdn/route-maps/entries":
            continue  # its entries are addressed by map and order: entries/{route-map-id}/entry/{order}
        item_ops = {m: by_key[f"{m} {path}"] for m in ("GET", "PUT", "DELETE") if f"{m} {path}" in by_key}
        if f"GET {head}" in by_key and by_key[f"GET {head}"].returns.get("type") == "array":
            item_ops["LIST"] = by_key[f"GET {head}"]
        found.append(Collection(head, param, creates, item_ops))
    return found


@pytest.fixture
async def walk() -> AsyncIterator[Walk]:
    app = mock_app(MockOptions(secret=b"walk-secret", control_key=CONTROL))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://pve1:8006") as client:
        yield await root_walk(app, client)


def _settable(op: Operation) -> str | None:
    """An optional free-text option the update takes (comment, description...)."""
    props: Mapping[str, Any] = op.parameters.get("properties") or {}
    for name in ("comment", "description", "comments"):
        if name in props and props[name].get("type") == "string" and not props[name].get("format") \
                and not props[name].get("pattern"):
            return name
    return None


def _message(response: httpx.Response) -> str:
    """The error's text: its parameter errors' when it has them (a 400), else its message."""
    body = response.json()
    errors = body.get("errors") or {}
    return " ".join(map(str, errors.values())) if errors else str(body.get("message") or "").strip()


async def _inside(walk: Walk, coll: Collection, collections: list[Collection]) -> None:
    """Make the objects ``coll`` lives in: a collection whose item its path names (an IP set for its
    addresses), or what INSIDE says."""
    for outer in collections:
        if (coll.template + "/").startswith(f"{outer.template}/{{{outer.param}}}/"):
            await _inside(walk, outer, collections)
            made = await call(walk, outer.create, parameters(walk, outer.create, CREATE.get(outer.template)))
            assert made.status_code == 200, (outer.template, made.text)
    if coll.template in INSIDE:
        where, extra = INSIDE[coll.template]
        outer = next(c for c in collections if c.template == where)
        made = await call(walk, outer.create, parameters(walk, outer.create, extra))
        assert made.status_code == 200, (where, made.text)


async def _roundtrip(walk: Walk, coll: Collection, collections: list[Collection]) -> list[str]:
    walk.restore()
    problems: list[str] = []
    where = coll.template
    await _inside(walk, coll, collections)
    created = parameters(walk, coll.create, CREATE.get(where))
    response = await call(walk, coll.create, created)
    if response.status_code != 200:
        return [f"{where}: create {response.status_code} {_message(response)}"]
    path_values = {k: v for k, v in created.items() if k in coll.create.path_params and k != coll.param}
    listed = coll.ops.get("LIST")
    entries = []
    if listed is not None:
        entries = (await call(walk, listed, {k: path_values[k] for k in listed.path_params})).json()["data"]
    ident = str(created.get(coll.param) or (entries[-1][coll.param] if entries else ""))  # a default or generated id
    if where == "/cluster/sdn/vnets/{vnet}/subnets":
        ident = f"zone1-{ident.replace('/', '-')}"  # Subnets.pm:221-225
    if where == "/cluster/qemu/custom-cpu-models":
        ident = ident.removeprefix("custom-")  # CustomCPUModels.pm:90-92: listed as 'custom-<name>'
    if listed is not None and ident not in [str(e.get(coll.param)).removeprefix("custom-") for e in entries]:
        problems.append(f"{where}: {ident} not listed: {entries}")
    ids = {coll.param: ident}
    item = {**path_values, **ids}
    read = coll.ops.get("GET")
    digest = None
    if read is not None:
        shown = await call(walk, read, item)
        if shown.status_code != 200:
            problems.append(f"{where}: read {shown.status_code} {_message(shown)}")
        elif isinstance(shown.json()["data"], dict):
            digest = shown.json()["data"].get("digest")
    update = coll.ops.get("PUT")
    field = _settable(update) if update is not None else None
    if update is not None and field is not None:
        required = {**parameters(walk, update), **item}  # what else the update requires (an alias' cidr)
        takes = update.parameters.get("properties") or {}
        digest = digest if "digest" in takes else None
        if "digest" in takes:
            stale = await call(walk, update, {**required, field: "walked", "digest": "0" * 40})
            if _message(stale) != STALE_UNDER.get(where, "") + STALE.strip():
                problems.append(f"{where}: a stale digest answered {stale.status_code} {_message(stale)}")
        changed = await call(walk, update, {**required, field: "walked", **({"digest": digest} if digest else {})})
        if changed.status_code != 200:
            problems.append(f"{where}: update {changed.status_code} {_message(changed)}")
        elif read is not None and (await call(walk, read, item)).json()["data"].get(field) != "walked":
            problems.append(f"{where}: the update was not kept")
        if "delete" in takes:
            removed = await call(walk, update, {**required, "delete": field})
            if removed.status_code != 200 or (read is not None
                                              and field in (await call(walk, read, item)).json()["data"]):
                problems.append(f"{where}: delete={field} {removed.status_code} {_message(removed)}")
    again = await call(walk, coll.create, created)
    expected = TEXTS.get(where)
    if again.status_code == 200 and coll.param in created:  # (a generated id makes a second item)
        problems.append(f"{where}: a duplicate was created")
    elif expected is not None and _message(again) != expected[0].replace("{id}", ident):
        problems.append(f"{where}: duplicate says {_message(again)!r}, PVE {expected[0]!r}")
    remove = coll.ops.get("DELETE")
    if remove is not None:
        gone = await call(walk, remove, {**parameters(walk, remove), **item})
        if gone.status_code != 200:
            problems.append(f"{where}: remove {gone.status_code} {_message(gone)}")
        elif read is not None:
            missing = await call(walk, read, item)
            if missing.status_code == 200:
                problems.append(f"{where}: still there after its remove")
            elif expected is not None and _message(missing) != expected[1].replace("{id}", ident):
                problems.append(f"{where}: a missing item says {_message(missing)!r}, PVE {expected[1]!r}")
    return problems


async def test_every_section_config_collection_of_the_tree_round_trips(walk: Walk) -> None:
    collections = _collections(walk)
    problems = []
    for coll in collections:
        if coll.template == "/cluster/ha/groups":
            continue  # a 9.x cluster has none: see below
        problems += await _roundtrip(walk, coll, collections)
    assert not problems, "\n".join(problems)
    assert len(collections) == 48  # HA groups included
    assert {c.template for c in collections} == set(walk.backend.store.layout.sections)
    assert set(TEXTS) <= {c.template for c in collections}


async def test_ha_groups_of_a_9x_cluster_are_rules(walk: Walk) -> None:
    """pve-ha-manager src/PVE/HA/Config.pm:261-268: a cluster without HA groups has migrated them to rules
    (every 9.x cluster ends so), and src/PVE/API2/HA/Groups.pm:60, :118 and Resources.pm:258-263 refuse
    groups from then on."""
    walk.restore()
    client, headers = walk.client, walk.headers
    listed = await client.get("/api2/json/cluster/ha/groups", headers=headers)
    assert _message(listed) == "cannot index groups: ha groups have been migrated to rules"
    created = await client.post("/api2/json/cluster/ha/groups", data={"group": "g1", "nodes": "pve1"},
                                headers=headers)
    assert _message(created) == "cannot create group: ha groups have been migrated to rules"
    resource = await client.post("/api2/json/cluster/ha/resources", data={"sid": "ct:200", "group": "g1"},
                                 headers=headers)
    assert _message(resource) == "invalid parameter 'group': ha groups have been migrated to rules"


async def test_a_backup_job_without_an_id_gets_one_and_counts_for_not_backed_up(walk: Walk) -> None:
    """pve-manager PVE/API2/Backup.pm:329-332: enabled unless told, a UUID when no id is given; the
    guests it covers leave PVE/API2/Cluster/BackupInfo.pm's not-backed-up list (VZDump.pm:1580-1617)."""
    walk.restore()
    client, headers = walk.client, walk.headers
    before = (await client.get("/api2/json/cluster/backup-info/not-backed-up", headers=headers)).json()["data"]
    assert before == [{"vmid": 100, "type": "qemu", "name": "web01"}, {"vmid": 101, "type": "qemu", "name": "db01"},
                      {"vmid": 200, "type": "lxc", "name": "proxy01"}]
    made = await client.post("/api2/json/cluster/backup", data={"schedule": "daily", "vmid": "100,200",
                                                                "storage": "local"}, headers=headers)
    assert made.status_code == 200, made.text
    jobs = (await client.get("/api2/json/cluster/backup", headers=headers)).json()["data"]
    assert len(jobs) == 1 and jobs[0]["enabled"] == 1 and jobs[0]["vmid"] == "100,200"
    assert len(jobs[0]["id"]) == 36 and jobs[0]["id"].count("-") == 4  # UUID::uuid()
    after = (await client.get("/api2/json/cluster/backup-info/not-backed-up", headers=headers)).json()["data"]
    assert after == [{"vmid": 101, "type": "qemu", "name": "db01"}]


async def test_a_realm_or_interface_made_through_the_api_is_the_one_every_reader_sees(walk: Walk) -> None:
    """Realms and a node's interfaces are kept once: the login form's realm list (Domains.pm:98-108), a
    user of the new realm (User.pm create checks the realm), the node's interface list, and a seeded
    bridge that can be edited and removed (pve-manager PVE/API2/Network.pm:750, :852)."""
    walk.restore()
    client, headers = walk.client, walk.headers
    made = await client.post("/api2/json/access/domains", data={
        "realm": "corp", "type": "ldap", "base_dn": "dc=corp", "user_attr": "uid", "server1": "ldap.corp",
        "comment": "Corporate"}, headers=headers)
    assert made.status_code == 200, made.text
    realms = (await client.get("/api2/json/access/domains")).json()["data"]
    assert {"realm": "corp", "type": "ldap", "comment": "Corporate"} in realms
    user = await client.post("/api2/json/access/users", data={"userid": "alice@corp"}, headers=headers)
    assert user.status_code == 200, user.text
    added = await client.post("/api2/json/nodes/pve2/network", data={"iface": "vmbr9", "type": "bridge"},
                              headers=headers)
    assert added.status_code == 200, added.text
    names = [i["iface"] for i in (await client.get("/api2/json/nodes/pve2/network", headers=headers)).json()["data"]]
    assert "vmbr9" in names and "vmbr0" in names
    edited = await client.put("/api2/json/nodes/pve2/network/vmbr0", data={"type": "bridge", "comments": "uplink"},
                              headers=headers)
    assert edited.status_code == 200, edited.text
    shown = (await client.get("/api2/json/nodes/pve2/network/vmbr0", headers=headers)).json()["data"]
    assert shown["comments"] == "uplink"
    gone = await client.delete("/api2/json/nodes/pve2/network/vmbr0", headers=headers)
    assert gone.status_code == 200, gone.text
    missing = await client.get("/api2/json/nodes/pve2/network/vmbr0", headers=headers)
    assert (missing.status_code, missing.json()["errors"]) == (400, {"iface": "interface does not exist"})
    # the removal waits in interfaces.new (pve-common src/PVE/INotify.pm:45): once applied (pve-manager
    # PVE/API2/Network.pm:921), VM 101 on pve2 has lost its bridge and cannot start (PVE's tap plugging fails)
    applied = await client.put("/api2/json/nodes/pve2/network", headers=headers)
    assert applied.status_code == 200, applied.text
    walk.backend.mock.tasks.finish_all()
    started = await client.post("/api2/json/nodes/pve2/qemu/101/status/start", headers=headers)
    task = started.json()["data"]
    status = (await client.get(f"/api2/json/nodes/pve2/tasks/{task}/status", headers=headers)).json()["data"]
    assert status["exitstatus"] == "bridge 'vmbr0' does not exist"


async def test_an_ha_rule_names_managed_resources_and_member_nodes(walk: Walk) -> None:
    """pve-ha-manager src/PVE/API2/HA/Rules.pm:45-80 under 'create ha rule failed' (:298)."""
    walk.restore()  # vm:100 is HA-managed in the walk's state
    client, headers = walk.client, walk.headers
    rule = {"rule": "r1", "type": "node-affinity", "nodes": "pve1:2,pve2"}
    unmanaged = await client.post("/api2/json/cluster/ha/rules", data={**rule, "resources": "vm:100,vm:101"},
                                  headers=headers)
    assert unmanaged.json()["message"] == "create ha rule failed: cannot use unmanaged resource(s) vm:101.\n"
    strange = await client.post("/api2/json/cluster/ha/rules", data={**rule, "resources": "vm:100",
                                                                     "nodes": "pve1,pve9"}, headers=headers)
    assert strange.json()["message"] == "create ha rule failed: cannot use non-existent node(s) pve9.\n"
    made = await client.post("/api2/json/cluster/ha/rules", data={**rule, "resources": "vm:100"}, headers=headers)
    assert made.status_code == 200, made.text
    listed = (await client.get("/api2/json/cluster/ha/rules", headers=headers)).json()["data"]
    assert [(r["rule"], r["resources"]) for r in listed] == [("r1", "vm:100")]


async def test_the_built_in_realms_names_and_types_are_reserved(walk: Walk) -> None:
    """pve-access-control src/PVE/API2/Domains.pm:152-159 under 'add auth server failed' (:193)."""
    walk.restore()
    client, headers = walk.client, walk.headers
    for data, text in (({"realm": "pam", "type": "pam"}, "domain 'pam' already exists"),
                       ({"realm": "mypve", "type": "pve"}, "unable to create builtin type 'pve'")):
        response = await client.post("/api2/json/access/domains", data=data, headers=headers)
        assert response.json()["message"] == f"add auth server failed: {text}\n"
