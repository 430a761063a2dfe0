"""What the mock answers where it keeps nothing is still valid data: every GET answered by shaped data,
a directory index, a view or the configuration store, called on the seeded cluster, passes its
operation's ``returns`` as PVE checks a value (format, property string, pattern, bounds, enum: pve-common
src/PVE/JSONSchema.pm check_prop 1507-1689) and names only objects the cluster holds.

The oracle is the schema and PVE's registered format checks, applied here to the decoded answer (a
number read as Perl reads it), not the sample generator's choices.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from pvegateway.apidoc.operation import Operation
from pvegateway.backends.mock.backend import MockBackend, MockOptions
from pvegateway.backends.mock.coverage import kind_of
from pvegateway.backends.mock.runtime import Mock
from pvegateway.backends.mock.store.defaults import section
from pvegateway.schema.checker import PVE_FORMATS, PVEValidator
from pvegateway.schema.dialect import Node, read
from tests.mock.conftest import mock_app
from tests.mock.test_zero_privilege import CONTROL, Walk
from tests.mock.walking import call, parameters, root_walk

# what the configuration store answers (coverage.py's names): shaped data, indexes, views, and the kept
# objects, which it completes with shaped values for what ``returns`` requires and nobody set. (Realistic
# handlers answer as PVE does, drift from the schema included: a node's netmask "24", pve-common
# src/PVE/Network/Interfaces.pm:458-464, is no ipv4mask.)
CHECKED_KINDS = frozenset({"shaped", "index", "view", "section", "singleton", "positional"})


@pytest.fixture(params=["9.2", "9.1.11"])
async def walk(request: pytest.FixtureRequest) -> AsyncIterator[Walk]:
    app = mock_app(MockOptions(secret=b"walk-secret", control_key=CONTROL), version=request.param)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://pve1:8006") as client:
        yield await root_walk(app, client)


def _as_perl(value: Any) -> Any:
    """A decoded JSON value as PVE's checks see a Perl scalar: ``5`` is "5", ``true`` is "1"."""
    if isinstance(value, dict):
        return {key: _as_perl(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_as_perl(item) for item in value]
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) and not value.is_integer() else str(int(value))
    return value


def schema_errors(op: Operation, data: Any) -> list[str]:
    node = read(op.returns)
    if not op.returns or (node.type is None and not node.one_of):
        return []
    validator = PVEValidator({"pve": node}, format_checker=PVE_FORMATS)
    return [f"{'.'.join(map(str, error.path)) or 'data'}: {error.message.strip()}"
            for error in validator.iter_errors(_as_perl(data))]


def _references(node: Node, value: Any, name: str = "") -> Iterator[tuple[str, Any]]:
    """(kind of object, value) for each value of the answer that names a guest, node, storage, user or
    volume, by its format or, for a plain value, its property's name."""
    if isinstance(value, list):
        for item in value:
            yield from _references(node.items, item, name) if node.items is not None else ()
        return
    if isinstance(value, dict):
        for key, item in value.items():
            sub = (node.properties or {}).get(key)
            if sub is not None:
                yield from _references(sub, item, key)
        return
    fmt = node.format if isinstance(node.format, str) else None
    kind = {"pve-vmid": "guest", "pve-node": "node", "pve-storage-id": "storage", "pve-userid": "user",
            "pve-volume-id": "volume", "pve-sdn-zone-id": "zone", "pve-sdn-vnet-id": "vnet",
            }.get((fmt or "").removesuffix("-list"))
    kind = kind or {"vmid": "guest", "guest": "guest", "volid": "volume", "userid": "user", "zone": "zone",
                    "vnet": "vnet"}.get(name)
    if kind is not None and value not in (None, ""):
        yield kind, value


def _holds(mock: Mock, kind: str, value: Any) -> bool:
    cluster = mock.cluster
    text = str(value)
    if kind == "guest":
        return text.isdigit() and int(text) in cluster.guests
    if kind == "node":
        return text in cluster.nodes
    if kind == "storage":
        return text in cluster.storages
    if kind == "user":
        return text in cluster.users
    if kind in ("zone", "vnet"):
        return text in section(cluster, f"/cluster/sdn/{kind}s", {})
    storage = cluster.storages.get(text.partition(":")[0])
    return storage is not None and any(text in storage.bucket(node) for node in cluster.nodes)


async def test_shaped_answers_are_valid_and_name_only_real_objects(walk: Walk) -> None:
    backend = walk.backend
    assert isinstance(backend, MockBackend)
    checked = 0
    problems: list[str] = []
    for op in sorted(walk.app.schema.operations, key=lambda o: o.path):
        if op.method != "GET" or kind_of(backend, op).split(" + ")[0] not in CHECKED_KINDS:
            continue
        walk.restore()
        response = await call(walk, op, parameters(walk, op))
        if response.status_code != 200 or not response.headers["content-type"].startswith("application/json"):
            continue  # PVE's own refusal (a stopped guest's agent...): other tests pin those
        checked += 1
        data = response.json()["data"]
        problems += [f"{op.path}: {text}" for text in schema_errors(op, data)]
        problems += [f"{op.path}: names {kind} {value!r}, which the cluster does not hold"
                     for kind, value in _references(read(op.returns), data)
                     if not _holds(backend.mock, kind, value)]
    assert not problems, "\n".join(problems)
    assert checked > 150  # the walk reached the store's GETs, not a handful (194 on 9.2 today)
