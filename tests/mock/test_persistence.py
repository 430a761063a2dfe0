"""``state_file``: the cluster is saved atomically on shutdown and loaded by the next backend."""

from __future__ import annotations

import json
from pathlib import Path

from pvegateway.backends.mock.backend import MockOptions
from tests.mock.conftest import mock_app


async def test_state_survives_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    options = MockOptions(secret=b"x", state_file=state)
    first = mock_app(options)
    backend = first.backend
    async with first.lifespan():
        cluster = backend.mock.cluster  # type: ignore[attr-defined]
        cluster.guests.pop(101)
        cluster.users["alice@pve"] = type(cluster.users["root@pam"])("alice@pve", comment="kept")
    saved = json.loads(state.read_text())
    assert {g["vmid"] for g in saved["guests"]} == {100, 200}
    assert not list(tmp_path.glob("*.tmp*"))
    second = mock_app(MockOptions(secret=b"x", state_file=state))
    cluster = second.backend.mock.cluster  # type: ignore[attr-defined]
    assert set(cluster.guests) == {100, 200}
    assert cluster.users["alice@pve"].comment == "kept"
    assert cluster.users["root@pam"].password == "pvegateway"
