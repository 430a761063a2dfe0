"""The generic backend: collections from the tree itself, shaped answers for everything else."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from pvegateway.apidoc.operation import Operation
from pvegateway.app import Gateway, create_app
from pvegateway.backends.samples import sample


@pytest.fixture
def app() -> Gateway:
    return create_app("9.2", "generic")


async def call(app: Gateway, method: str, path: str, data: dict[str, str] | None = None) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://pve") as client:
        if method in ("GET", "DELETE"):
            return await client.request(method, "/api2/json" + path, params=data)
        return await client.request(method, "/api2/json" + path, data=data)


async def test_collection_item_lifecycle(app: Gateway) -> None:
    assert (await call(app, "POST", "/pools", {"poolid": "lab", "comment": "first"})).status_code == 200
    item = (await call(app, "GET", "/pools/lab")).json()["data"]
    assert item["comment"] == "first"
    listed = (await call(app, "GET", "/pools")).json()["data"]
    assert [p["poolid"] for p in listed] == ["lab"]
    assert (await call(app, "PUT", "/pools/lab", {"comment": "second"})).status_code == 200
    assert (await call(app, "GET", "/pools/lab")).json()["data"]["comment"] == "second"
    assert (await call(app, "DELETE", "/pools/lab")).status_code == 200
    gone = await call(app, "GET", "/pools/lab")
    assert gone.status_code == 500
    assert gone.json()["message"] == "poolid 'lab' does not exist\n"


async def test_duplicate_create_fails_and_changes_nothing(app: Gateway) -> None:
    await call(app, "POST", "/access/groups", {"groupid": "ops", "comment": "a"})
    again = await call(app, "POST", "/access/groups", {"groupid": "ops", "comment": "b"})
    assert again.status_code == 500 and "already exists" in again.json()["message"]
    assert (await call(app, "GET", "/access/groups/ops")).json()["data"]["comment"] == "a"


async def test_config_update_with_delete_and_digest(app: Gateway) -> None:
    await call(app, "POST", "/nodes/pve1/qemu", {"vmid": "100", "name": "web", "cores": "2", "memory": "2048"})
    config = (await call(app, "GET", "/nodes/pve1/qemu/100/config")).json()["data"]
    assert config["name"] == "web" and config["cores"] == "2"
    stale = await call(app, "PUT", "/nodes/pve1/qemu/100/config", {"cores": "4", "digest": "0" * 40})
    assert stale.status_code == 500
    assert stale.json()["message"].startswith("detected modified configuration")
    ok = await call(app, "PUT", "/nodes/pve1/qemu/100/config", {"delete": "memory", "digest": config["digest"]})
    assert ok.status_code == 200
    after = (await call(app, "GET", "/nodes/pve1/qemu/100/config")).json()["data"]
    assert "memory" not in after and after["cores"] == "2"


async def test_reads_under_a_missing_guest_fail_like_pve(app: Gateway) -> None:
    response = await call(app, "GET", "/nodes/pve1/qemu/999/status/current")
    assert response.status_code == 500
    assert response.json()["message"] == "vmid '999' does not exist\n"


async def test_index_nodes_list_their_children(app: Gateway) -> None:
    data = (await call(app, "GET", "/nodes/pve1/qemu/100")).json()
    assert data["message"].endswith("does not exist\n")  # under a guest: the guest must exist
    await call(app, "POST", "/nodes/pve1/qemu", {"vmid": "100"})
    subdirs = {d["subdir"] for d in (await call(app, "GET", "/nodes/pve1/qemu/100")).json()["data"]}
    assert {"config", "status", "snapshot", "firewall"} <= subdirs


async def test_unbacked_reads_are_shaped_by_returns(app: Gateway) -> None:
    status = (await call(app, "GET", "/cluster/status")).json()["data"]
    assert isinstance(status, list) and status
    assert isinstance(status[0], dict) and "type" in status[0]
    version = (await call(app, "GET", "/version")).json()["data"]
    assert set(version) >= {"version", "release", "repoid"}


def _path_values(op: Operation) -> dict[str, str]:
    props = op.parameters.get("properties") or {}
    values: dict[str, str] = {}
    for name in op.path_params:
        value = sample(props.get(name) or {"type": "string"}, name)
        values[name] = str(value)
    return values


async def test_every_operation_answers_like_pve_never_crashes(app: Gateway) -> None:
    """Each of the 676 operations, called with plausible path values: a PVE-shaped answer, never a crash."""
    seen = 0
    for op in app.schema.operations:
        values = _path_values(op)
        path = op.path
        for name, value in values.items():
            path = path.replace("{" + name + "}", value)
        response = await call(app, op.method, path)
        body: dict[str, Any] = response.json()
        assert "data" in body, (op.key, body)
        if response.status_code == 500:
            assert "does not exist" in body["message"] or "already exists" in body["message"], (op.key, body)
        else:
            assert response.status_code in (200, 400), (op.key, response.status_code, body)
        seen += 1
    assert seen == 676


async def test_an_item_shows_only_what_returns_requires_by_pves_rule(app: Gateway) -> None:
    """A fabric's ``redistribute`` is a typed ``oneOf`` whose alternatives are all optional: PVE never
    requires it (pve-common src/PVE/JSONSchema.pm:1525-1537), so an item created without it is shown
    without it (it was shown as an invented ``[]``)."""
    created = await call(app, "POST", "/cluster/sdn/fabrics/fabric",
                         {"id": "f1", "protocol": "openfabric", "ip_prefix": "10.0.0.0/24"})
    assert created.status_code == 200
    shown = (await call(app, "GET", "/cluster/sdn/fabrics/fabric/f1")).json()["data"]
    assert shown == {"id": "f1", "protocol": "openfabric", "ip_prefix": "10.0.0.0/24"}
