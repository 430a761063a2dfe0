"""The pytest plugin (pvegateway.testing): a mock cluster per test, served or in-process."""

from __future__ import annotations

import json

import httpx
import pytest
import requests

from pvegateway.testing import PVEMock, PVEMockApp

pytest_plugins = ("pytester",)


def login(mock: PVEMock) -> requests.Session:
    session = requests.Session()
    session.verify = mock.verify
    answer = session.post(f"{mock.api_url}/access/ticket", data={"username": mock.user, "password": mock.password},
                          timeout=10)
    assert answer.status_code == 200, answer.text
    data = answer.json()["data"]
    session.cookies.set("PVEAuthCookie", data["ticket"])
    session.headers["CSRFPreventionToken"] = data["CSRFPreventionToken"]
    return session


def test_pve_mock_serves_plain_http_by_default(pve_mock: PVEMock) -> None:
    assert pve_mock.url == f"http://127.0.0.1:{pve_mock.port}" and pve_mock.host == "127.0.0.1"
    assert (pve_mock.user, pve_mock.password, pve_mock.verify) == ("root@pam", "pvegateway", False)
    anonymous = requests.get(f"{pve_mock.api_url}/version", timeout=10)
    assert anonymous.status_code == 401 and anonymous.reason == "No ticket"
    with login(pve_mock) as session:
        assert session.get(f"{pve_mock.api_url}/version", timeout=10).json()["data"]["release"]


def test_each_test_gets_a_fresh_cluster(pytester: pytest.Pytester) -> None:
    # a user's own test file, run in its own pytest: the second test must see the seed again, whichever
    # order the outer suite runs in
    pytester.makepyfile("""
        def test_first_deletes_a_guest(pve_mock):
            del pve_mock.control.cluster.guests[101]
            assert 101 not in pve_mock.control.cluster.guests

        def test_second_sees_the_seed_again(pve_mock):
            assert {100, 101, 200} <= set(pve_mock.control.cluster.guests)
    """)
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_control_reset_dump_and_direct_access(pve_mock: PVEMock) -> None:
    control = pve_mock.control
    seed = control.dump()
    assert {g["vmid"] for g in seed["guests"]} >= {100, 101, 200}
    control.call(lambda backend: backend.mock.cluster.guests.pop(200))
    assert 200 not in control.cluster.guests
    control.reset()
    assert 200 in control.cluster.guests
    seed["guests"] = [g for g in seed["guests"] if g["vmid"] != 101]
    control.reset(seed)
    assert 101 not in control.cluster.guests


def test_control_reset_gives_back_the_whole_seed(pve_mock: PVEMock) -> None:
    """Changes made over the API, then ``control.reset()``: the whole dump is the first one again, with
    the seed's disks, the snapshots and tokens (a reset used to come back without any volume)."""
    control = pve_mock.control
    fresh = control.dump()
    with login(pve_mock) as session:
        for method, path, data in [
            ("POST", "/nodes/pve1/qemu", {"vmid": "120", "scsi0": "local-lvm:4"}),
            ("POST", "/nodes/pve1/qemu/100/snapshot", {"snapname": "s1"}),
            ("DELETE", "/nodes/pve2/qemu/101", None),
            ("DELETE", "/nodes/pve1/storage/local/content/local:iso/debian-12.9.0-amd64-netinst.iso", None),
            ("POST", "/access/users/root@pam/token/t1", None),
            ("POST", "/pools", {"poolid": "p1"}),
        ]:
            answer = session.request(method, f"{pve_mock.api_url}{path}", data=data, timeout=10)
            assert answer.status_code == 200, (path, answer.text)
    assert control.dump() != fresh
    control.reset()
    assert control.dump() == fresh
    control.reset()
    assert control.dump() == fresh


def test_control_dump_and_seed_are_copies(pve_mock: PVEMock) -> None:
    """Changing a dump, or a seed after ``reset(seed)``, changes neither the cluster nor later resets."""
    control = pve_mock.control
    seed = control.dump()
    seed["options"] = {"keyboard": "de"}
    expected = json.loads(json.dumps(seed))
    control.reset(seed)
    seed["guests"].clear()
    seed["storages"][1]["volumes"].clear()
    seed["options"]["keyboard"] = "fr"
    dumped = control.dump()
    dumped["options"]["keyboard"] = "it"
    dumped["guests"][0]["config"]["memory"] = "1"
    assert control.dump() == expected
    control.reset()
    assert control.dump() == expected


def test_control_clock_ages_tickets(pve_mock: PVEMock) -> None:
    with login(pve_mock) as session:
        assert session.get(f"{pve_mock.api_url}/version", timeout=10).status_code == 200
        pve_mock.control.advance(7201)
        expired = session.get(f"{pve_mock.api_url}/version", timeout=10)
        assert expired.status_code == 401 and expired.reason == "Authentication failed!"


def test_control_task_progression_survives_reset(pve_mock: PVEMock) -> None:
    pve_mock.control.set_tasks("polls:2")
    pve_mock.control.reset()
    assert str(pve_mock.control.backend.mock.tasks.progression) == "polls:2"
    with pytest.raises(ValueError, match="task progression"):
        pve_mock.control.set_tasks("later")


@pytest.mark.pve_mock(tls=True)
def test_tls_by_marker_with_proxmoxer(pve_mock: PVEMock) -> None:
    assert pve_mock.url.startswith("https://") and pve_mock.verify == pve_mock.certificate
    assert pve_mock.fingerprint and len(pve_mock.fingerprint.split(":")) == 32
    prox = pve_mock.proxmoxer()
    assert sorted(node["node"] for node in prox.nodes.get()) == ["pve1", "pve2", "pve3"]


@pytest.mark.parametrize("pve_mock", [{"root_password": "s3cret", "tls": True}], indirect=True)
def test_options_by_indirect_parameter(pve_mock: PVEMock) -> None:
    assert pve_mock.password == "s3cret"
    assert pve_mock.proxmoxer().version.get()["release"]


def test_proxmoxer_needs_tls(pve_mock: PVEMock) -> None:
    with pytest.raises(RuntimeError, match="tls=True"):
        pve_mock.proxmoxer()


async def test_pve_mock_app_in_process_with_httpx(pve_mock_app: PVEMockApp) -> None:
    transport = httpx.ASGITransport(app=pve_mock_app)
    async with httpx.AsyncClient(transport=transport, base_url="https://pve1:8006") as client:
        anonymous = await client.get("/api2/json/version")
        assert anonymous.status_code == 401
        login = await client.post("/api2/json/access/ticket",
                                  data={"username": pve_mock_app.user, "password": pve_mock_app.password})
        ticket = login.json()["data"]["ticket"]
        version = await client.get("/api2/json/version", headers={"Cookie": f"PVEAuthCookie={ticket}"})
        assert version.status_code == 200
    assert 100 in pve_mock_app.control.cluster.guests
