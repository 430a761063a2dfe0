"""Fault injection from the pytest plugin (``pve_mock.control``), seen by a real client over a socket."""

from __future__ import annotations

import concurrent.futures
import time

import pytest
import requests

from pvegateway.testing import PVEMock
from tests.test_testing import login


def test_a_node_offline_answers_as_pveproxy_does_when_it_cannot_reach_it(pve_mock: PVEMock) -> None:
    pve_mock.control.set_online("pve2", False)
    with login(pve_mock) as session:
        answer = session.get(f"{pve_mock.api_url}/nodes/pve2/qemu", timeout=10)
        # pve-http-server src/PVE/APIServer/AnyEvent.pm:734-891 proxy_request passes AnyEvent::HTTP's
        # connect failure on as it is: status 595, the errno's text as the reason phrase, no body
        assert (answer.status_code, answer.reason, answer.content) == (595, "No route to host", b"")
        nodes = {n["node"]: n["status"] for n in session.get(f"{pve_mock.api_url}/nodes", timeout=10).json()["data"]}
        assert nodes == {"pve1": "online", "pve2": "offline", "pve3": "online"}
        pve_mock.control.set_online("pve2", True)
        assert session.get(f"{pve_mock.api_url}/nodes/pve2/qemu", timeout=10).status_code == 200


def test_failures_tasks_and_storage_from_the_plugin(pve_mock: PVEMock) -> None:
    control = pve_mock.control
    control.fail("GET /nodes/{node}/qemu/{vmid}/config", vmid=100, status=500,
                 message="unable to read config", times=1)
    control.fail_task("post_nodes_node_qemu_vmid_status_start", message="timeout waiting on systemd")
    with login(pve_mock) as session:
        config = f"{pve_mock.api_url}/nodes/pve1/qemu/100/config"
        failed = session.get(config, timeout=10)
        assert (failed.status_code, failed.reason) == (500, "unable to read config")
        assert failed.json() == {"data": None, "message": "unable to read config\n"}
        assert session.get(config, timeout=10).status_code == 200
        upid = session.post(f"{pve_mock.api_url}/nodes/pve2/qemu/101/status/start", timeout=10).json()["data"]
        status = session.get(f"{pve_mock.api_url}/nodes/pve2/tasks/{upid}/status", timeout=10).json()["data"]
        assert status["exitstatus"] == "timeout waiting on systemd"
        control.clear_faults()
        control.set_full("local-lvm")
        figures = session.get(f"{pve_mock.api_url}/nodes/pve1/storage/local-lvm/status", timeout=10).json()["data"]
        assert figures["avail"] == 0
    assert control.dump()["faults"] == []
    with pytest.raises(ValueError, match="no operation"):
        control.fail("GET /no/such/path", message="x")


def test_latency_never_holds_up_another_request(pve_mock: PVEMock) -> None:
    control = pve_mock.control
    ident = control.delay("GET /version", seconds=3)

    def hits() -> int:
        return next(f.hits for f in control.cluster.faults if f.id == ident)

    with login(pve_mock) as slow_session, login(pve_mock) as session, \
            concurrent.futures.ThreadPoolExecutor(1) as pool:
        started = time.monotonic()
        slow = pool.submit(slow_session.get, f"{pve_mock.api_url}/version", timeout=30)
        deadline = started + 10
        while not hits() and time.monotonic() < deadline:  # the server has the slow call: it waits now
            pass
        assert hits() == 1
        assert session.get(f"{pve_mock.api_url}/nodes", timeout=10).status_code == 200
        assert not slow.done()  # the other call was answered while this one waited
        answer: requests.Response = slow.result(timeout=30)
        assert answer.status_code == 200 and time.monotonic() - started >= 3
