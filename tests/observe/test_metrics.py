"""/metrics: Prometheus text format 0.0.4 whose counters follow the requests exactly, with series per
operation template (never per concrete path), rate-limit and upstream-error counts, and gateway info."""

from __future__ import annotations

import time
from pathlib import Path

from pvegateway.apidoc.operation import Operation
from pvegateway.backends.base import Identity
from pvegateway.errors import PVEError
from pvegateway.observe.metrics import BUCKETS
from pvegateway.testing import mock_gateway, running_mock
from tests.compose import observed
from tests.live import live_server
from tests.proxy.conftest import proxy_gateway

from .conftest import Scrape, fetch, login, parse

DURATION = "pvegateway_request_duration_seconds"
STATUS_CURRENT = "/nodes/{node}/qemu/{vmid}/status/current"


def scrape(base: str, headers: dict[str, str] | None = None) -> Scrape:
    answer = fetch(f"{base}/metrics", headers=headers)
    assert answer.status == 200, answer
    assert answer.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    return parse(answer.body.decode())


def assert_histogram(scraped: Scrape, name: str, count: int, **labels: str) -> None:
    buckets = [scraped.value(f"{name}_bucket", **labels, le=repr(b)) for b in BUCKETS]
    buckets.append(scraped.value(f"{name}_bucket", **labels, le="+Inf"))
    assert buckets == sorted(buckets), "buckets must be cumulative"
    assert buckets[-1] == scraped.value(f"{name}_count", **labels) == count
    assert scraped.value(f"{name}_sum", **labels) > 0
    assert scraped.types[name] == "histogram"


def test_counters_follow_requests_exactly_per_operation_template() -> None:
    gateway = observed(mock_gateway(), access_log=False)
    with live_server(gateway) as base:
        auth = login(base, "pvegateway")
        before = scrape(base)
        for node, vmid in [("pve1", 100), ("pve2", 101), ("pve1", 100)]:
            assert fetch(f"{base}/api2/json/nodes/{node}/qemu/{vmid}/status/current", headers=auth).status == 200
        assert fetch(f"{base}/api2/json/nodes/pve3/qemu/100/status/current", headers=auth).status == 500
        assert fetch(f"{base}/api2/json/nodes/pve1/qemu/100/status/current?junk=1", headers=auth).status == 400
        after = scrape(base)

    op = {"method": "GET", "operation": STATUS_CURRENT}
    assert before.value("pvegateway_requests_total", **op, status="200") == 0
    assert after.value("pvegateway_requests_total", **op, status="200") == 3
    assert after.value("pvegateway_requests_total", **op, status="500") == 1
    assert after.value("pvegateway_requests_total", **op, status="400") == 1
    assert after.value("pvegateway_requests_total", method="POST", operation="/access/ticket", status="200") == 1
    assert after.types["pvegateway_requests_total"] == "counter"
    assert_histogram(after, DURATION, 5, **op)
    # one series set per template: concrete nodes, VM IDs and query parameters never become labels
    values = {value for _, labels in after.samples for _, value in labels}
    assert not {v for v in values if any(c in v for c in ("pve1", "pve2", "pve3", "100", "101", "junk"))}
    templates = {op.path for op in gateway.schema.operations} | {"unrouted"}
    assert {value for _, labels in after.samples for key, value in labels if key == "operation"} <= templates
    assert after.value("pvegateway_info", version="0.1.0", schema="9.2", backend="mock") == 1
    assert time.time() - 3600 < after.value("process_start_time_seconds") <= time.time()


class RefuseVersion:
    """A limiter over its budget for GET /version only."""

    async def check(self, operation: Operation, identity: Identity | None, client: str | None) -> None:
        if operation.path == "/version":
            raise PVEError(429, "rate limit exceeded\n", headers={"Retry-After": "7"})

    async def aclose(self) -> None:
        pass


def test_rate_limit_rejections_are_counted_per_operation() -> None:
    gateway = observed(mock_gateway(limiter=RefuseVersion()), access_log=False)
    with live_server(gateway) as base:
        auth = login(base, "pvegateway")
        for _ in range(3):
            assert fetch(f"{base}/api2/json/version", headers=auth).status == 429
        assert fetch(f"{base}/api2/json/nodes", headers=auth).status == 200
        scraped = scrape(base)
    assert scraped.series("pvegateway_rate_limited_total") == {
        frozenset({("method", "GET"), ("operation", "/version")}): 3.0,
    }


def test_metrics_token_is_required_when_configured() -> None:
    gateway = observed(mock_gateway(), access_log=False, metrics_token="scrape-secret-8d2f6a1c9e4b")
    with live_server(gateway) as base:
        refused = fetch(f"{base}/metrics")
        wrong = fetch(f"{base}/metrics", headers={"Authorization": "Bearer nope"})
        scraped = scrape(base, {"Authorization": "Bearer scrape-secret-8d2f6a1c9e4b"})
    assert refused.status == wrong.status == 401
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert b"pvegateway_requests_total" not in refused.body + wrong.body
    assert scraped.value("pvegateway_info", version="0.1.0", schema="9.2", backend="mock") == 1


def test_metrics_off_means_no_endpoint_but_health_still_answers() -> None:
    gateway = observed(mock_gateway(), metrics=False, access_log=False)
    with live_server(gateway) as base:
        assert fetch(f"{base}/metrics").status == 404
        assert fetch(f"{base}/healthz").status == 200
    assert gateway.api.observer is None  # nothing observes the request path at all


def test_proxy_counts_gateway_made_upstream_errors_and_upstream_latency(refusing_port: int, tmp_path: Path) -> None:
    down = proxy_gateway(upstreams=[f"http://127.0.0.1:{refusing_port}"])
    down = observed(down, access_log=False)
    with live_server(down) as base:
        for _ in range(2):
            assert fetch(f"{base}/api2/json/version").status == 503
        failed = scrape(base)
    assert failed.value("pvegateway_upstream_errors_total", status="503") == 2
    assert failed.value("pvegateway_upstream_errors_total", status="502") == 0
    assert failed.value("pvegateway_upstream_duration_seconds_count") == 0

    with running_mock(tls=True, state_dir=tmp_path) as pve:
        up = proxy_gateway(upstreams=[pve.url], fingerprints=[pve.fingerprint])
        up = observed(up, access_log=False)
        with live_server(up) as base:
            # the node's own 401 passes through: an answer from upstream, not an upstream error
            statuses = [fetch(f"{base}/api2/json/version").status for _ in range(3)]
            answered = scrape(base)
    assert statuses == [401, 401, 401]
    assert answered.value("pvegateway_requests_total", method="GET", operation="unrouted", status="401") == 0
    assert answered.value("pvegateway_requests_total", method="GET", operation="/version", status="401") == 3
    assert_histogram(answered, "pvegateway_upstream_duration_seconds", 3)
    assert answered.value("pvegateway_upstream_errors_total", status="503") == 0
    assert answered.value("pvegateway_info", version="0.1.0", schema="9.2", backend="proxy") == 1
