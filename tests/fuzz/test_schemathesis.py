"""schemathesis against the mock gateway's own /openapi.json: every operation, authenticated.

One run (a module fixture) fuzzes all operations with a few derandomized examples each (~20 s); the
tests read its report. Figures: ``pytest tests/fuzz -s`` prints them, and
``python -m tests.fuzz.harness`` prints them with every failure.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from pvegateway.backends.base import Call
from pvegateway.backends.mock.runtime import Mock
from pvegateway.backends.proxy.drift import check, returns_node

from .harness import BASE, CONTROL_KEY, Report, Target, fuzz

EXAMPLES = 3  # per operation: 676 operations give ~2,000 requests


@pytest.fixture(scope="module")
def target() -> Target:
    return Target("9.2")


@pytest.fixture(scope="module")
def report(target: Target) -> Iterator[Report]:
    result = fuzz(target, examples=EXAMPLES)
    print("\nschemathesis:", result.summary())
    yield result


def test_every_operation_of_the_document_is_fuzzed(target: Target, report: Report) -> None:
    assert report.operations == len(target.gateway.schema.operations) == 676
    assert report.examples >= 2 * report.operations  # two or three each (fewer when a strategy is tiny)
    assert report.unsatisfiable == []


def test_no_crash_no_foreign_5xx_no_hang_and_answers_fit_their_returns(report: Report) -> None:
    assert report.failures == [], "\n".join(str(f) for f in report.failures)


def test_examples_reach_the_handlers_not_only_the_validator(report: Report) -> None:
    """Fuzzing that PVE's validator refuses whole tests the validator only: most examples must pass it."""
    answered = sum(n for status, n in report.statuses.items() if status != 400)
    assert answered > 0.6 * report.examples
    assert report.statuses[200] > 0.4 * report.examples


def test_every_example_ran_on_the_whole_seeded_cluster(target: Target, report: Report) -> None:
    """The run resets before every example, and a reset gives back the seeded cluster whole: before this
    held, the first reset lost every volume, so most examples ran on guests whose disks did not exist."""
    assert report.examples > 1
    target.backend.reset()
    assert target.backend.dump() == target.seeded
    assert sum(len(s["volumes"]) for s in target.seeded["storages"]) == 9  # the default seed's


def test_a_crashing_handler_is_reported_with_its_request(target: Target, monkeypatch: pytest.MonkeyPatch) -> None:
    """The harness itself: an exception in a handler (the gateway's 'internal error' 500) is a failure."""
    key = ("GET", "/nodes/{node}/qemu")

    def broken(mock: Mock, call: Call) -> None:
        raise RuntimeError("bug")

    monkeypatch.setitem(target.backend.routes, key, broken)
    operation = next(op for op in target.operations() if (op.method.upper(), op.path) == key)
    result = fuzz(target, examples=2, operations=[operation])
    crashes = [f for f in result.failures if f.status == 500 and "crashed" in f.reasons[0]]
    assert crashes and all("/api2/json/nodes/" in f.request for f in crashes)


async def test_a_reset_also_forgets_objects_only_the_generic_fallback_keeps(target: Target) -> None:
    """Found while making examples independent: reset kept what the schema-driven fallback created
    (an SDN zone here), so one example's POST changed the next example's answers. (The configuration
    store now keeps such objects in the cluster, which a reset rebuilds.)"""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=target.gateway), base_url=BASE,
                                 cookies={"PVEAuthCookie": target.cookie},
                                 headers={"CSRFPreventionToken": target.csrf}) as client:
        created = await client.post("/api2/json/cluster/sdn/zones", data={"zone": "zfuzz", "type": "simple"})
        assert created.status_code == 200
        listed = (await client.get("/api2/json/cluster/sdn/zones")).json()["data"]
        assert [(z["zone"], z["type"]) for z in listed] == [("zfuzz", "simple")]
        control = await client.post("/_gateway/reset", headers={"Authorization": f"Bearer {CONTROL_KEY}"})
        assert control.status_code == 200
        assert (await client.get("/api2/json/cluster/sdn/zones")).json()["data"] == []


async def test_an_item_the_fallback_created_answers_with_what_returns_promises(target: Target) -> None:
    """Found by fuzzing (20 examples an operation): a ZFS pool created through the schema-driven
    fallback was shown back as its creation parameters, without the ``children``, ``errors`` and
    ``state`` its GET's ``returns`` requires."""
    operation = target.by_key[("GET", "/nodes/{node}/disks/zfs/{name}")]
    returns = returns_node(operation)
    assert returns is not None
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=target.gateway), base_url=BASE,
                                 cookies={"PVEAuthCookie": target.cookie},
                                 headers={"CSRFPreventionToken": target.csrf}) as client:
        created = await client.post("/api2/json/nodes/pve1/disks/zfs",
                                    data={"name": "tank", "devices": "/dev/sdb", "raidlevel": "single"})
        assert created.status_code == 200, created.text
        shown = await client.get("/api2/json/nodes/pve1/disks/zfs/tank")
    target.backend.reset()
    assert shown.status_code == 200
    data = shown.json()["data"]
    assert data["name"] == "tank" and {"children", "errors", "state"} <= data.keys()
    assert not check(returns, data)
