"""/healthz says the process answers; /readyz says it can serve the API: schema loaded, backend started
and, in proxy mode, a PVE node reachable (TLS and pin included), else 503 with the reason."""

from __future__ import annotations

import contextlib
from pathlib import Path

from starlette.applications import Starlette
from starlette.routing import Mount

from pvegateway.testing import mock_gateway, running_mock
from tests.compose import observed
from tests.live import live_server
from tests.proxy.conftest import proxy_gateway

from .conftest import fetch


def test_healthz_and_readyz_answer_for_the_mock() -> None:
    gateway = observed(mock_gateway())
    with live_server(gateway) as base:
        health = fetch(f"{base}/healthz")
        ready = fetch(f"{base}/readyz")
    assert (health.status, health.json()) == (200, {"status": "ok"})
    assert (ready.status, ready.json()) == (200, {"status": "ready"})
    assert ready.headers["Cache-Control"] == "no-store"


def test_readyz_refuses_while_the_backend_was_never_started() -> None:
    """Mounted in a host app that forgot ``lifespan=gateway.lifespan``: up, but not ready."""
    gateway = observed(mock_gateway())
    host = Starlette(routes=[Mount("/pve", app=gateway)])
    with live_server(host) as base:
        health = fetch(f"{base}/pve/healthz")
        ready = fetch(f"{base}/pve/readyz")
    assert health.status == 200
    assert (ready.status, ready.json()) == (503, {"status": "unavailable", "reason": "backend not started"})


def test_proxy_readyz_follows_the_upstream(tmp_path: Path, refusing_port: int) -> None:
    down = proxy_gateway(upstreams=[f"https://127.0.0.1:{refusing_port}"])
    down = observed(down)
    with live_server(down) as base:
        refused = fetch(f"{base}/readyz")
        assert fetch(f"{base}/healthz").status == 200  # liveness never depends on the nodes
    assert refused.status == 503
    assert refused.json() == {"status": "unavailable", "reason": f"no PVE node reachable - 127.0.0.1:{refusing_port}: "
                                                                  "cannot connect (Connection refused)"}

    with running_mock(tls=True, state_dir=tmp_path) as pve:
        down_url = f"https://127.0.0.1:{refusing_port}"
        pinned = proxy_gateway(upstreams=[down_url, pve.url],  # each node is pinned to its own certificate
                               fingerprints=[f"{down_url}={'AB:' * 31}AB", f"{pve.url}={pve.fingerprint}"])
        wrong_pin = proxy_gateway(upstreams=[pve.url], fingerprints=["AA:" * 31 + "AA"])
        pinned = observed(pinned)
        wrong_pin = observed(wrong_pin)
        with live_server(pinned) as base, live_server(wrong_pin) as wrong_base:
            ready = fetch(f"{base}/readyz")  # one node of two is enough
            mistrusted = fetch(f"{wrong_base}/readyz")
    assert (ready.status, ready.json()) == (200, {"status": "ready"})
    assert mistrusted.status == 503
    assert mistrusted.json()["reason"] == (f"no PVE node reachable - 127.0.0.1:{pve.port}: "
                                           "TLS certificate does not match the pinned fingerprint")


def test_proxy_readyz_turns_unready_when_the_node_stops_and_caches_within_ttl(tmp_path: Path) -> None:
    node = contextlib.ExitStack()
    with node:
        pve = node.enter_context(running_mock(tls=True, state_dir=tmp_path))
        fresh = proxy_gateway(upstreams=[pve.url], fingerprints=[pve.fingerprint])
        cached = proxy_gateway(upstreams=[pve.url], fingerprints=[pve.fingerprint])
        fresh = observed(fresh, readiness_ttl=0)  # every probe connects
        cached = observed(cached, readiness_ttl=60)  # at most one connection per minute
        with live_server(fresh) as fresh_base, live_server(cached) as cached_base:
            assert fetch(f"{fresh_base}/readyz").status == 200
            assert fetch(f"{cached_base}/readyz").status == 200
            node.close()  # the PVE node stops; the gateways keep running
            stopped = fetch(f"{fresh_base}/readyz")
            remembered = fetch(f"{cached_base}/readyz")
    assert stopped.status == 503
    assert stopped.json()["reason"] == (f"no PVE node reachable - 127.0.0.1:{pve.port}: "
                                        "cannot connect (Connection refused)")
    assert remembered.status == 200
