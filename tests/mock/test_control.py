"""The /_gateway control API: off without a key, guarded by a bearer key, drives the mock."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from pvegateway.backends.mock.backend import MockOptions
from tests.mock.conftest import PVE, login, mock_app

CONTROL_KEY = "s3cret-control-key-4c9e1b7a"
KEY = {"Authorization": f"Bearer {CONTROL_KEY}"}


@pytest.fixture
async def ctl() -> AsyncIterator[PVE]:
    app = mock_app(MockOptions(secret=b"test-secret", control_key=CONTROL_KEY))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://pve1:8006") as client:
        yield PVE(client, app, await login(client))


async def test_off_without_a_key(pve: PVE) -> None:
    response = await pve.client.get("/_gateway/state", headers=KEY)
    assert response.status_code == 404


async def test_missing_or_wrong_key(ctl: PVE) -> None:
    missing = await ctl.client.get("/_gateway/state")
    assert missing.status_code == 401 and "Bearer" in missing.json()["error"]
    wrong = await ctl.client.get("/_gateway/state", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 403 and "s3cret" not in wrong.text
    assert "s3cret" not in repr(ctl.backend.options)


async def test_state_reset_and_seed(ctl: PVE) -> None:
    state = (await ctl.client.get("/_gateway/state", headers=KEY)).json()
    assert {g["vmid"] for g in state["guests"]} == {100, 101, 200}
    ctl.backend.mock.cluster.guests.pop(100)
    assert (await ctl.client.post("/_gateway/reset", headers=KEY)).json()["guests"] == 3
    seed = {"nodes": [{"name": "solo", "ip": "192.0.2.99"}]}
    assert (await ctl.client.post("/_gateway/seed", json=seed, headers=KEY)).json()["guests"] == 0
    assert [n["node"] for n in await ctl.data("GET", "/nodes")] == ["solo"]  # tickets stay valid
    await ctl.client.post("/_gateway/reset", headers=KEY)
    assert [n["node"] for n in await ctl.data("GET", "/nodes")] == ["solo"]  # reset goes back to that seed
    bad = await ctl.client.post("/_gateway/reset", content=b"[1]", headers=KEY)
    assert bad.status_code == 400


async def test_a_reset_keeps_the_seeds_volumes_snapshots_and_tokens(ctl: PVE) -> None:
    """Loading a seed once took its volumes (and snapshots and tokens) out of it: every reset after
    the first gave a cluster whose storages were empty."""
    volumes = "/nodes/pve1/storage/local/content"
    before = await ctl.data("GET", volumes)
    assert before
    for _ in range(2):
        await ctl.client.post("/_gateway/reset", headers=KEY)
        assert await ctl.data("GET", volumes) == before


async def test_task_progression_finish_and_clock(ctl: PVE) -> None:
    bad = await ctl.client.put("/_gateway/tasks", json={"mode": "sometimes"}, headers=KEY)
    assert bad.status_code == 400
    answer = await ctl.client.put("/_gateway/tasks", json={"mode": "polls:3"}, headers=KEY)
    assert answer.json()["mode"] == "polls:3"
    upid = await ctl.data("DELETE", "/nodes/pve2/storage/local/content/local:iso/debian-12.9.0-amd64-netinst.iso")
    assert (await ctl.data("GET", f"/nodes/pve2/tasks/{upid}/status"))["status"] == "running"
    finished = await ctl.client.post("/_gateway/tasks/finish", headers=KEY)
    assert finished.json()["finished"] == 1
    assert (await ctl.data("GET", f"/nodes/pve2/tasks/{upid}/status"))["status"] == "stopped"
    await ctl.client.put("/_gateway/tasks", json={"mode": "delay:60"}, headers=KEY)
    upid = await ctl.data("DELETE", "/nodes/pve3/storage/local/content/local:iso/debian-12.9.0-amd64-netinst.iso")
    assert (await ctl.data("GET", f"/nodes/pve3/tasks/{upid}/status"))["status"] == "running"
    assert (await ctl.client.post("/_gateway/clock", json={"seconds": 61}, headers=KEY)).status_code == 200
    assert (await ctl.data("GET", f"/nodes/pve3/tasks/{upid}/status"))["status"] == "stopped"
    assert (await ctl.client.post("/_gateway/clock", json={"seconds": -1}, headers=KEY)).status_code == 400
