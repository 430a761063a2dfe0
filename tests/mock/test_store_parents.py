"""Every operation of PVE 9.2's tree, called as root under the seeded cluster's objects, works for them.

The walk reuses the zero-privilege walk's parameters (tests/mock/test_zero_privilege.py: valid for the
validator, naming the seeded node, guests, storage, user and the SDN objects it prepares) and restores
the same state before each call. An operation may fail for its own item (a backup job the seed does not
have) or its state (a running guest cannot be destroyed), but never say that an object its path names
does not exist when the cluster holds it: before the configuration store, 80 operations did (``vmid
'100' does not exist`` for every generic sub-resource of a guest, ``realm 'pam' does not exist``,
``iface 'vmbr0' does not exist``...). And none crashes (the gateway's 'internal error').
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest

from pvegateway.apidoc.operation import Operation
from pvegateway.backends.mock.backend import MockOptions
from tests.mock.conftest import login, mock_app
from tests.mock.test_zero_privilege import CONTROL, ROOT, Walk
from tests.mock.walking import call, parameters, root_walk

# the objects the walk's path parameters name that exist: the default seed's (pvegateway/backends/mock/
# seed.py), PVE's built-in realms, and what the walk prepares (an HA resource and root's token here, SDN
# objects and a replication job in the zero-privilege walk's preparation)
EXISTING: Mapping[str, frozenset[str]] = {
    "node": frozenset({"pve1"}), "vmid": frozenset({"100", "200"}), "storage": frozenset({"local"}),
    "userid": frozenset({ROOT}), "realm": frozenset({"pam"}), "iface": frozenset({"vmbr0"}),
    "sid": frozenset({"vm:100"}), "zone": frozenset({"zone1"}), "vnet": frozenset({"vnet1"}),
    "ipam": frozenset({"pve"}), "id": frozenset({"100-0"}),
}
# "No such file or directory" speaks of a file (one the guest agent is asked to read), not of a parent
MISSING = re.compile(r"does not exist|no such(?! file)|not found|not a known|not HA managed", re.IGNORECASE)
INTERNAL_ERROR = "internal error"


def _named(message: str, value: str) -> bool:
    """Whether a message speaks of ``value``: quoted, or as a guest's config file."""
    return f"'{value}'" in message or f"/{value}.conf" in message or f"VM {value} " in message


@pytest.fixture
async def walk() -> AsyncIterator[Walk]:
    app = mock_app(MockOptions(secret=b"walk-secret", control_key=CONTROL))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://pve1:8006") as client:
        yield await root_walk(app, client)


async def _call(walk: Walk, op: Operation) -> tuple[dict[str, Any], httpx.Response]:
    walk.restore()
    params = parameters(walk, op)
    return {name: str(params[name]) for name in op.path_params}, await call(walk, op, params)


def _message(response: httpx.Response) -> str:
    if not response.headers.get("content-type", "").startswith("application/json"):
        return ""
    body = response.json()
    return " ".join([str(body.get("message") or ""), *map(str, (body.get("errors") or {}).values())])


async def test_no_operation_says_an_existing_parent_does_not_exist(walk: Walk) -> None:
    problems = []
    for op in sorted(walk.app.schema.operations, key=lambda o: (o.path, o.method)):
        named, response = await _call(walk, op)
        message = _message(response)
        if response.status_code == 500 and INTERNAL_ERROR in message:
            problems.append(f"{op.key}: crashed")
            continue
        if response.status_code == 200 or not MISSING.search(message):
            continue
        existing = [f"{p}={v}" for p, v in named.items() if v in EXISTING.get(p, ()) and _named(message, v)]
        if existing:
            problems.append(f"{op.key} ({', '.join(existing)}): {response.status_code} {message.strip()}")
    assert not problems, "\n".join(problems)


async def test_a_guest_sub_resource_answers_for_the_seeded_guest_and_pves_text_for_a_missing_one(
        walk: Walk) -> None:
    """The calls the audit found broken (Ansible's inventory, bpg's agent wait, Telmate's feature
    check), for VM 100 and CT 200, then for a VMID nobody has: pve-guest-common
    src/PVE/AbstractConfig.pm load_config dies "Configuration file '<path>' does not exist"."""
    client, headers = walk.client, walk.headers
    for path in ("/nodes/pve1/qemu/100/agent/network-get-interfaces", "/nodes/pve1/qemu/100/feature",
                 "/nodes/pve1/qemu/100/rrddata", "/nodes/pve1/lxc/200/interfaces"):
        query = {"feature": "snapshot"} if path.endswith("feature") else {"timeframe": "hour"} \
            if path.endswith("rrddata") else {}
        response = await client.get("/api2/json" + path, params=query, headers=headers)
        assert response.status_code == 200, (path, response.text)
    response = await client.post("/api2/json/nodes/pve1/qemu/100/agent/ping", headers=headers)
    assert response.status_code == 200, response.text
    response = await client.get("/api2/json/nodes/pve1/qemu/999/feature", params={"feature": "snapshot"},
                                headers=headers)
    assert (response.status_code, response.json()["message"]) == (
        500, "Configuration file 'nodes/pve1/qemu-server/999.conf' does not exist\n")
    response = await client.get("/api2/json/nodes/pve1/lxc/100/interfaces", headers=headers)
    assert (response.status_code, response.json()["message"]) == (
        500, "Configuration file 'nodes/pve1/lxc/100.conf' does not exist\n")


async def test_a_storage_user_or_ha_resource_parent_fails_with_pves_text_when_missing(walk: Walk) -> None:
    client, headers = walk.client, walk.headers
    # pve-storage API2/Storage/Content.pm index -> Storage.pm:1304 volume_list -> :259 storage_config
    # (rrddata asks no storage config: a missing storage is an RRD error there)
    response = await client.get("/api2/json/nodes/pve1/storage/nope/content", headers=headers)
    assert (response.status_code, response.json()["message"]) == (500, "storage 'nope' does not exist\n")
    # pve-access-control src/PVE/AccessControl.pm check_user_exist
    response = await client.put("/api2/json/access/users/ghost@pve/unlock-tfa", headers=headers)
    assert (response.status_code, response.json()["message"]) == (500, "no such user ('ghost@pve')\n")
    # pve-ha-manager src/PVE/HA/Config.pm:479-487 service_is_ha_managed, then the migration is queued
    response = await client.post("/api2/json/cluster/ha/resources/vm:101/migrate", data={"node": "pve1"},
                                 headers=headers)
    assert (response.status_code, response.json()["message"]) == (500, "resource 'vm:101' is not HA managed\n")
    response = await client.post("/api2/json/cluster/ha/resources/vm:100/migrate", data={"node": "pve2"},
                                 headers=headers)
    assert response.status_code == 200, response.text


# parameters whose missing object PVE itself reports as "<param> '<value>' does not exist"
PVE_WORDS_IT_SO = {"storage": "pve-storage src/PVE/Storage.pm:259 storage_config"}
CORPUS = [json.loads(line) for line in (Path(__file__).parents[1] / "data" / "golden_corpus.jsonl").read_text()
          .splitlines()]


async def test_the_golden_corpus_valid_cases_never_get_the_fallbacks_does_not_exist() -> None:
    """The corpus's valid requests (tests/data/golden_corpus.jsonl, PVE 9.2's validator accepted them)
    name objects the default seed lacks (VM 120, storage ceph-rbd...): they may fail as PVE's handler
    would (its texts: "Configuration file ... does not exist", "storage 'ceph-rbd' does not exist"), but
    never with the schema-driven fallback's ``<param> '<value>' does not exist``, which 29 of the 243 9.2
    ones got before the configuration store (``vmid '120' does not exist`` for a guest's agent, ``pos '3'``
    for a firewall rule, ``realm 'pam'``...)."""
    app = mock_app(MockOptions(secret=b"corpus-secret"))
    generic = []
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://pve1:8006") as client:
        headers = await login(client)
        seed = app.backend.dump()  # type: ignore[attr-defined]
        for case in CORPUS:
            if case["expected"]["status"] != "valid" or case["version"] != "9.2":
                continue
            app.backend.reset(seed)  # type: ignore[attr-defined]
            url = "/api2/json" + case["path"] + ("?" + case["query"] if case["query"] else "")
            sent = {**headers, **({"content-type": case.get("content_type", "application/x-www-form-urlencoded")}
                                  if case["body"] else {})}
            response = await client.request(case["method"], url, content=case["body"].encode(), headers=sent)
            message = _message(response)
            op = next(o for o in app.schema.operations if o.path == case["template"] and o.method == case["method"])
            pattern = re.sub(r"\\\{[^}]+\\\}", "([^/]+)", re.escape(op.path))
            found = re.fullmatch(pattern, case["path"])
            values = dict(zip(op.path_params, found.groups() if found else (), strict=False))
            if any(message.strip() == f"{name} '{unquote(value)}' does not exist" for name, value in values.items()
                   if name not in PVE_WORDS_IT_SO):
                generic.append(f"{case['id']}: {message.strip()}")
    assert not generic, "\n".join(generic)
