"""Calling every operation of the tree as root, with the zero-privilege walk's valid parameters
(tests/mock/test_zero_privilege.py), from one prepared state restored before each call."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx

from pvegateway.apidoc.operation import Operation
from pvegateway.app import Gateway
from tests.mock.conftest import login
from tests.mock.test_zero_privilege import ROOT, Walk, _prepare


async def root_walk(app: Gateway, client: httpx.AsyncClient) -> Walk:
    """The zero-privilege walk's state (seed, SDN zone1/vnet1, the built-in IPAM pve, replication job 100-0) plus an
    HA resource vm:100 and root's token 'walk', with CT 200 running again; calls made as root."""
    walk = await _prepare(app, client)
    walk.headers = await login(client)
    app.backend.mock.tasks.finish_all()  # type: ignore[attr-defined]  # the stop of CT 200 included
    for path, data in (("/cluster/ha/resources", {"sid": "vm:100"}), (f"/access/users/{ROOT}/token/walk", {}),
                       ("/nodes/pve1/lxc/200/status/start", {})):
        response = await client.post("/api2/json" + path, data=data, headers=walk.headers)
        assert response.status_code == 200, response.text
    app.backend.mock.tasks.finish_all()  # type: ignore[attr-defined]
    walk.seed = walk.backend.dump()
    return walk


def parameters(walk: Walk, op: Operation, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    target = ROOT if "userid" in (op.parameters.get("properties") or {}) else None
    return {**walk.params(op, target), **(extra or {})}


async def call(walk: Walk, op: Operation, params: Mapping[str, Any]) -> httpx.Response:
    """``op`` with ``params`` (its path parameters among them), in the current state."""
    rest = dict(params)
    path = op.path
    for name in op.path_params:
        path = path.replace("{" + name + "}", quote(str(rest.pop(name)), safe=""))
    url = "/api2/json" + path
    if op.method in ("GET", "DELETE"):
        return await walk.client.request(op.method, url, params=rest, headers=walk.headers)
    return await walk.client.request(op.method, url, data=rest, headers=walk.headers)
