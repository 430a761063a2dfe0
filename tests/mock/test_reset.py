"""Reset, seed and dump: a reset gives back exactly the seeded cluster, and a dump seeds the same cluster.

Whole dumps (``GET /_gateway/state``) are compared before and after. The oracles: the seed itself (every
value a seed gives is in the seeded cluster's dump) and the dump of the cluster as first seeded.
``tests/data/cluster_seed.json`` is a seed with every kind of object: several nodes (one offline),
storages with volumes (notes, a protected backup, a shared NFS storage), guests with disks, snapshots and
pending changes, users with tokens, groups, a custom role, ACLs for a user, a group and a token, a pool,
an HA resource, options, task history, counters and a deterministic clock.
"""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from pvegateway.backends.mock.backend import MockOptions
from pvegateway.backends.mock.seed import DEFAULT_SEED
from tests.mock.conftest import PVE, login, mock_app

CONTROL_KEY = "reset-control-key-5d1f0a9c3e7b"
KEY = {"Authorization": f"Bearer {CONTROL_KEY}"}
SEED: dict[str, Any] = json.loads((Path(__file__).parents[1] / "data" / "cluster_seed.json").read_text())
ROOT_PASSWORD = "lab-root-pw-71c2"  # root@pam's in that seed
ABSENT = object()


def missing(seed: Any, dump: Any, where: str = "") -> list[str]:
    """Where a value the seed gives is not in the dump: an object's keys, a list's items in any order
    (a dump lists a storage's volumes node by node, whatever order the seed gave them in)."""
    if isinstance(seed, dict):
        if not isinstance(dump, dict):
            return [where or "."]
        return [m for k, v in seed.items() for m in missing(v, dump.get(k, ABSENT), f"{where}.{k}")]
    if isinstance(seed, list):
        if not isinstance(dump, list) or len(dump) != len(seed):
            return [where]
        return [f"{where}[{i}]" for i, item in enumerate(seed) if all(missing(item, d) for d in dump)]
    return [] if seed == dump else [where]


def seed_in(dump: dict[str, Any], seed: dict[str, Any]) -> list[str]:
    """What of ``seed`` the dump lacks (a dump also lists the built-in roles)."""
    plain = {k: v for k, v in seed.items() if k not in ("roles", "root_password")}
    listed = {r["roleid"] for r in seed.get("roles", [])}
    return missing(plain, dump) + missing(seed.get("roles", []),
                                          [r for r in dump["roles"] if r["roleid"] in listed], ".roles")


@asynccontextmanager
async def controlled() -> AsyncIterator[PVE]:
    """A mock with the control API, and a client not yet logged in."""
    app = mock_app(MockOptions(secret=b"test-secret", control_key=CONTROL_KEY))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://pve1:8006") as client:
        yield PVE(client, app, {})


@pytest.fixture
async def ctl() -> AsyncIterator[PVE]:
    async with controlled() as mock:
        yield mock


async def state(mock: PVE) -> dict[str, Any]:
    response = await mock.client.get("/_gateway/state", headers=KEY)
    assert response.status_code == 200, response.text
    dumped: dict[str, Any] = response.json()
    return dumped


async def control(mock: PVE, path: str, seed: dict[str, Any] | None = None) -> None:
    response = await mock.client.post(f"/_gateway/{path}", json=seed, headers=KEY)
    assert response.status_code == 200, response.text


async def as_root(mock: PVE, password: str = ROOT_PASSWORD) -> PVE:
    return PVE(mock.client, mock.app, await login(mock.client, password=password))


async def change_everything(pve: PVE) -> None:
    """Change every kind of object of the seed through the API, as a client would."""
    steps: list[tuple[str, str, dict[str, Any] | None]] = [
        ("PUT", "/nodes/pve-a/qemu/300/config", {"memory": "8192", "description": "changed"}),
        ("POST", "/nodes/pve-b/qemu", {"vmid": "310", "name": "new", "scsi0": "local-zfs:4", "pool": "prod"}),
        ("DELETE", "/nodes/pve-b/qemu/301", None),
        ("POST", "/nodes/pve-a/qemu/300/snapshot", {"snapname": "later", "description": "more"}),
        ("DELETE", "/nodes/pve-a/qemu/300/snapshot/before-upgrade", None),
        ("POST", "/nodes/pve-c/lxc/400/snapshot", {"snapname": "ct-snap"}),
        ("POST", "/nodes/pve-c/lxc/400/status/stop", None),
        ("POST", "/nodes/pve-a/storage/local-zfs/content",
         {"vmid": "300", "filename": "vm-300-disk-7", "size": "1G"}),
        ("DELETE", "/nodes/pve-a/storage/local/content/local:iso/alpine-3.21.iso", None),
        ("PUT", "/nodes/pve-a/storage/local/content/local:backup/vzdump-qemu-300-2025_06_01-00_00_00.vma.zst",
         {"notes": "rewritten", "protected": "0"}),
        ("POST", "/access/users/alice@pve/token/deploy", {"comment": "new"}),
        ("DELETE", "/access/users/alice@pve/token/ci", None),
        ("POST", "/access/users", {"userid": "carol@pve", "password": "carol-pw-1234", "groups": "audit"}),
        ("DELETE", "/access/users/bob@pam", None),
        ("PUT", "/access/users/alice@pve", {"email": "alice@new.example"}),
        ("POST", "/access/groups", {"groupid": "devs"}),
        ("POST", "/access/roles", {"roleid": "Watcher2", "privs": "VM.Audit"}),
        ("PUT", "/access/acl", {"path": "/", "roles": "PVEAuditor", "users": "carol@pve"}),
        ("PUT", "/access/acl", {"path": "/vms/300", "roles": "PVEVMAdmin", "users": "alice@pve", "delete": "1"}),
        ("POST", "/pools", {"poolid": "dev", "comment": "scratch"}),
        ("PUT", "/pools/prod", {"comment": "changed"}),
        ("POST", "/cluster/ha/resources", {"sid": "vm:310"}),
        ("DELETE", "/cluster/ha/resources/vm:300", None),
        ("PUT", "/cluster/options", {"keyboard": "de"}),  # datacenter.cfg
        ("POST", "/cluster/firewall/aliases", {"name": "office", "cidr": "192.0.2.0/24"}),  # the store
    ]
    for method, path, data in steps:
        await pve.data(method, path, data)


async def test_a_reset_gives_back_the_default_cluster_whole(ctl: PVE) -> None:
    fresh = await state(ctl)
    assert seed_in(fresh, DEFAULT_SEED) == []  # the default seed's disks included
    pve = await as_root(ctl, "pvegateway")
    await pve.data("POST", "/nodes/pve1/qemu/100/status/stop")
    await pve.data("DELETE", "/nodes/pve1/qemu/100")
    await control(ctl, "reset")
    assert await state(ctl) == fresh
    await control(ctl, "reset")  # and again: the first reset did not use the seed up
    assert await state(ctl) == fresh


async def test_a_reset_gives_back_a_seeded_cluster_whole(ctl: PVE) -> None:
    await control(ctl, "seed", SEED)
    fresh = await state(ctl)
    assert seed_in(fresh, SEED) == []
    await control(ctl, "reset")
    assert await state(ctl) == fresh
    await control(ctl, "reset")
    assert await state(ctl) == fresh


async def test_after_changing_everything_a_reset_gives_back_the_seed(ctl: PVE) -> None:
    await control(ctl, "seed", SEED)
    fresh = await state(ctl)
    await change_everything(await as_root(ctl))
    await inject_faults(ctl)
    changed = await state(ctl)
    # the rest all changed (datacenter.cfg is kept in the store)
    assert [k for k in fresh if fresh[k] == changed[k]] == ["format", "name", "options"]
    await control(ctl, "reset")
    assert await state(ctl) == fresh


async def inject_faults(mock: PVE, storage: str = "local-zfs") -> None:
    """What the control API's faults change: its list of faults, a node's state, a storage's."""
    for method, path, body in (("POST", "/_gateway/faults", {"operation": "GET /version", "message": "x"}),
                               ("PUT", "/_gateway/nodes/pve-b", {"online": False}),
                               ("PUT", f"/_gateway/storages/{storage}", {"full": True})):
        response = await mock.client.request(method, path, json=body, headers=KEY)
        assert response.status_code == 200, response.text


async def test_a_dump_seeds_the_same_cluster_which_goes_on_the_same(ctl: PVE) -> None:
    """The state round trip: a cluster seeded from a dump is the same, and stays the same under the same
    requests: the second cluster (another backend) is where the first would be."""
    await control(ctl, "seed", SEED)
    pve = await as_root(ctl)
    await change_everything(pve)
    await inject_faults(ctl, "local")  # the faults too (not on the storage the requests below use)
    dumped = await state(ctl)
    assert dumped["faults"]
    async with controlled() as twin:
        await control(twin, "seed", copy.deepcopy(dumped))
        assert await state(twin) == dumped
        await control(twin, "reset")  # back to that dump, not to the twin's own default seed
        assert await state(twin) == dumped
        twin_pve = await as_root(twin)
        pve = await as_root(ctl)  # a login in each: the same clock reads in both
        for client in (pve, twin_pve):
            await client.data("POST", "/nodes/pve-a/qemu", {"vmid": "320", "scsi0": "local-zfs:2"})
            await client.data("POST", "/nodes/pve-a/qemu/320/snapshot", {"snapname": "s1"})
        assert await state(twin) == await state(ctl)


async def test_a_seed_is_kept_not_shared(ctl: PVE) -> None:
    """A reset goes back to the seed as it was given, whatever became of the objects built from it."""
    await control(ctl, "seed", SEED)
    fresh = await state(ctl)
    pve = await as_root(ctl)
    await pve.data("PUT", "/nodes/pve-a/qemu/300/config", {"memory": "1024"})  # a seeded guest's own config
    await control(ctl, "reset")
    assert await state(ctl) == fresh


@pytest.mark.parametrize(("seed", "message"), [
    ({"guest": []}, "unknown seed section(s) ['guest']"),  # a misspelt section is not an empty one
    ({"clock": "soon"}, "seed clock 'soon': an integer"),
    ({"format": 2}, "seed format 2: this version reads format 1"),
    # checked against the seed's JSON Schema (`pvegateway seed schema`): where, and what is wrong
    ({"nodes": [{"name": "n1"}]}, "seed: nodes/0: 'ip' is a required property"),
    ({"roles": [{"privs": []}]}, "seed: roles/0: 'roleid' is a required property"),
    ({"guests": [{"vmid": "x", "kind": "qemu", "node": "pve-a", "config": {}}]},
     "seed: guests/0/vmid: 'x' is not of type 'integer'"),
])
async def test_a_bad_seed_is_refused_and_changes_nothing(ctl: PVE, seed: dict[str, Any], message: str) -> None:
    await control(ctl, "seed", SEED)
    before = await state(ctl)
    for path in ("seed", "reset"):
        refused = await ctl.client.post(f"/_gateway/{path}", json=seed, headers=KEY)
        assert refused.status_code == 400 and message in refused.json()["error"], refused.text
        assert await state(ctl) == before
    await control(ctl, "reset")  # still the last good seed
    assert await state(ctl) == before
