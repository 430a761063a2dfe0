"""The access log: one JSON line per API request with the operation's template and timings, and
nothing a request carries (concrete path, query, headers, body, ticket, token)."""

from __future__ import annotations

import asyncio
import json
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from pvegateway.testing import mock_gateway, running_mock
from tests.compose import observed
from tests.live import live_server
from tests.proxy.conftest import proxy_gateway
from tests.proxy.faulty import Responder, answer, by_path, nodes, pve_json, stall, stall_body

from .conftest import Sink, fetch, login

PASSWORD = "hunter2-query-secret"
TOKEN_SECRET = "5f3c0d2e-aaaa-bbbb-cccc-token-secret"
NODE_STATUS = "/api2/json/nodes/pve1/status"


def test_one_json_line_per_request_with_template_status_timings_and_client(access_sink: Sink) -> None:
    gateway = observed(mock_gateway(), metrics=False)
    with live_server(gateway) as base:
        auth = login(base, "pvegateway")
        assert fetch(f"{base}/api2/json/nodes/pve1/qemu/100/status/current", headers=auth).status == 200
        assert fetch(f"{base}/api2/json/nodes/pve1/qemu", method="POST", headers=auth,
                     data=b"vmid=150&memory=512").status == 200
        lines = [json.loads(line) for line in access_sink.lines(3)]
    assert [(e["method"], e["path"], e["status"]) for e in lines] == [
        ("POST", "/access/ticket", 200),
        ("GET", "/nodes/{node}/qemu/{vmid}/status/current", 200),
        ("POST", "/nodes/{node}/qemu", 200),
    ]
    for entry in lines:
        assert set(entry) == {"time", "method", "path", "status", "duration_ms", "backend", "upstream_ms", "client"}
        assert entry["backend"] == "mock"
        assert entry["client"] == "127.0.0.1"
        assert entry["upstream_ms"] is None  # nothing was proxied
        assert 0 < entry["duration_ms"] < 10_000
        assert entry["time"].endswith("Z") and entry["time"][10] == "T"


def test_query_headers_body_tickets_and_tokens_are_never_logged(access_sink: Sink) -> None:
    gateway = observed(mock_gateway())
    with live_server(gateway) as base:
        auth = login(base, "pvegateway")
        ticket = urllib.parse.unquote(auth["Cookie"].split("=", 1)[1])
        query = urllib.parse.urlencode({"password": PASSWORD, "full": 1})
        refused = fetch(f"{base}/api2/json/nodes/pve3/qemu?{query}", headers=auth)  # password: not a parameter
        token = fetch(f"{base}/api2/json/nodes/pve3/qemu?password={PASSWORD}",
                      headers={"Authorization": f"PVEAPIToken=root@pam!ci={TOKEN_SECRET}"})
        lines = access_sink.lines(3)
    assert refused.status == 400 and token.status == 401
    text = "\n".join(lines)
    for secret in ("pvegateway", PASSWORD, TOKEN_SECRET, ticket, ticket.split("::")[-1], auth["CSRFPreventionToken"],
                   "pve3", "password", "PVEAPIToken", "root@pam", "?"):
        assert secret not in text
    entries = [json.loads(line) for line in lines]
    assert entries[1]["path"] == "/nodes/{node}/qemu" and entries[1]["status"] == 400
    assert entries[2]["path"] is None and entries[2]["status"] == 401  # refused before routing: no path at all


def test_no_access_log_writes_nothing_while_metrics_still_count(access_sink: Sink) -> None:
    gateway = observed(mock_gateway(), access_log=False)
    with live_server(gateway) as base:
        assert fetch(f"{base}/api2/json/version").status == 401
        # the scrape runs on the server's loop after the request was recorded: a sync point
        scraped = fetch(f"{base}/metrics").body.decode()
    assert 'pvegateway_requests_total{method="GET",operation="unrouted",status="401"} 1' in scraped
    assert access_sink.getvalue() == ""


def test_proxied_requests_log_the_upstream_latency(access_sink: Sink, tmp_path: Path) -> None:
    with running_mock(tls=True, state_dir=tmp_path) as pve:
        gateway = proxy_gateway(upstreams=[pve.url], fingerprints=[pve.fingerprint])
        gateway = observed(gateway, metrics=False)
        with live_server(gateway) as base:
            assert fetch(f"{base}/api2/json/nodes/pve1/qemu?full=1").status == 401  # the node's own answer
            assert fetch(f"{base}/api2/json/access/ticket", method="POST",
                         data=f"username=root@pam&password={PASSWORD}".encode()).status == 401
            entries = [json.loads(line) for line in access_sink.lines(2)]
    assert [(e["backend"], e["method"], e["path"], e["status"]) for e in entries] == [
        ("proxy", "GET", "/nodes/{node}/qemu", 401), ("proxy", "POST", "/access/ticket", 401)]
    for entry in entries:
        assert 0 < entry["upstream_ms"] <= entry["duration_ms"]
    assert PASSWORD not in access_sink.getvalue() and "root@pam" not in access_sink.getvalue()


# ---- answering cut short: a stopping server cancels what is still in flight past its shutdown timeout ----

async def _cancelled(access_sink: Sink, responder: Responder, *, mid_body: bool) -> tuple[list[Any], dict[str, Any]]:
    """A GET of a node's status through the proxy, its task cancelled once the answer's first bytes went
    to the client (``mid_body``) or while the node has not answered: what the client was sent, and the
    access log's line."""
    sent: list[Any] = []
    went = asyncio.Event()

    async def send(message: Any) -> None:
        sent.append(message)
        if message["type"] == "http.response.body":
            went.set()

    async def receive() -> Any:
        await asyncio.Event().wait()  # the client neither sends more nor leaves

    async with nodes(by_path({NODE_STATUS: responder}, answer())) as (node,):
        gateway = observed(proxy_gateway(upstreams=[node.url], read_timeout=30.0), metrics=False)
        async with gateway.lifespan():
            scope = {"type": "http", "method": "GET", "path": NODE_STATUS, "raw_path": NODE_STATUS.encode(),
                     "root_path": "", "query_string": b"", "client": ("127.0.0.1", 50000),
                     "headers": [(b"host", b"x"), (b"authorization", b"PVEAPIToken=root@pam!t=x")]}
            task = asyncio.create_task(gateway(scope, receive, send))
            if mid_body:
                await went.wait()
            else:
                await node.wait_requests(1)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
    return sent, json.loads(access_sink.lines(1)[0])


async def test_a_request_cancelled_mid_answer_is_logged_with_the_status_that_went_out(access_sink: Sink) -> None:
    body = pve_json({"filler": "x" * 4000})
    sent, entry = await _cancelled(access_sink, stall_body(asyncio.Event(), body, 1000), mid_body=True)
    assert [m["status"] for m in sent if m["type"] == "http.response.start"] == [200]
    assert (entry["method"], entry["path"], entry["status"]) == ("GET", "/nodes/{node}/status", 200)
    assert 0 < entry["upstream_ms"] <= entry["duration_ms"]  # the node's head had come: its time is known


async def test_a_request_cancelled_before_its_answer_is_logged_with_no_status(access_sink: Sink) -> None:
    sent, entry = await _cancelled(access_sink, stall(asyncio.Event()), mid_body=False)
    assert sent == []
    assert (entry["method"], entry["path"], entry["status"], entry["upstream_ms"]) == (
        "GET", "/nodes/{node}/status", 0, None)
