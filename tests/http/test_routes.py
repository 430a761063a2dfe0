"""Every operation is a Starlette route: listed, mountable, reversible, and named by instrumentation."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from opentelemetry.instrumentation.starlette import StarletteInstrumentor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, NoMatchFound, Route

from pvegateway.app import Gateway, create_app
from pvegateway.http.routes import OperationRoute
from pvegateway.testing import mock_gateway
from tests.asgi import lifespan

STATUS = "/api2/json/nodes/{node}/qemu/{vmid}/status/current"


def test_every_operation_is_one_route_with_a_unique_name() -> None:
    gateway = create_app()
    routes = [route for route in gateway.routes if isinstance(route, OperationRoute)]
    assert len(routes) == len(gateway.schema.operations) >= 676  # PVE 9.2's 675 and GET /
    assert {route.operation.key for route in routes} == {op.key for op in gateway.schema.operations}
    assert len({route.name for route in routes}) == len(routes)
    status = next(route for route in routes if route.operation.key == "GET /nodes/{node}/qemu/{vmid}/status/current")
    assert (status.path, status.name, status.methods) == (STATUS, "get_nodes_node_qemu_vmid_status_current", {"GET"})


def test_url_path_for_builds_pves_paths() -> None:
    gateway = create_app()
    path = gateway.url_path_for("get_nodes_node_qemu_vmid_status_current", node="pve1", vmid=100)
    assert path == "/api2/json/nodes/pve1/qemu/100/status/current"
    # a value is escaped; a volume id takes the rest of the path, slashes and all, as PVE reads it
    # (fragmentDelimiter '' in pve-storage src/PVE/API2/Storage/Content.pm)
    volume = gateway.url_path_for("get_nodes_node_storage_storage_content_volume", node="pve1", storage="local",
                                  volume="local:iso/debian 12.iso")
    assert volume == "/api2/json/nodes/pve1/storage/local/content/local%3Aiso/debian%2012.iso"
    assert gateway.url_path_for("get") == "/api2/json/"  # GET /, the index
    with pytest.raises(NoMatchFound):
        gateway.url_path_for("get_nodes_node_qemu_vmid_status_current", node="pve1")  # vmid missing


async def test_a_host_app_mounts_the_routes_and_its_router_dispatches_them() -> None:
    gateway = mock_gateway(send_reason=False)
    host = Starlette(routes=[Mount("/pve", routes=gateway.routes)], lifespan=gateway.lifespan)
    async with lifespan(host), httpx.AsyncClient(transport=httpx.ASGITransport(app=host), base_url="http://h") as http:
        anonymous = await http.get("/pve/api2/json/version")
        assert anonymous.status_code == 401  # PVE's answer without a ticket: the gateway's path ran
        login = await http.post("/pve/api2/json/access/ticket", data={"username": "root@pam",
                                                                      "password": "pvegateway"})
        http.cookies.set("PVEAuthCookie", login.json()["data"]["ticket"])
        status = await http.get("/pve/api2/extjs/nodes/pve1/qemu/100/status/current")
        assert status.status_code == 200 and status.json()["success"] == 1  # any format, one route
        assert host.url_path_for("get_version") == "/pve/api2/json/version"


@pytest.fixture
def telemetry() -> tuple[TracerProvider, InMemorySpanExporter, MeterProvider, InMemoryMetricReader]:
    exporter = InMemorySpanExporter()
    tracer = TracerProvider()
    tracer.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    return tracer, exporter, MeterProvider(metric_readers=[reader]), reader


async def _status_current(app: Starlette, prefix: str = "") -> AsyncIterator[httpx.Response]:
    async with lifespan(app), httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://h") as http:
        login = await http.post(f"{prefix}/api2/json/access/ticket",
                                data={"username": "root@pam", "password": "pvegateway"})
        http.cookies.set("PVEAuthCookie", login.json()["data"]["ticket"])
        yield await http.get(f"{prefix}/api2/json/nodes/pve1/qemu/100/status/current")


def _route_attributes(reader: InMemoryMetricReader) -> set[str]:
    """What the request-duration series are labelled with: ``http.target`` under OpenTelemetry's
    default (old) HTTP conventions, ``http.route`` under the stable ones; either comes from the route."""
    data = reader.get_metrics_data()
    assert data is not None
    return {str(value) for resource in data.resource_metrics for scope in resource.scope_metrics
            for metric in scope.metrics if metric.name in ("http.server.duration", "http.server.request.duration")
            for point in metric.data.data_points
            for key, value in (point.attributes or {}).items() if key in ("http.target", "http.route")}


async def test_opentelemetry_names_spans_and_series_by_the_operations_template(
        telemetry: tuple[TracerProvider, InMemorySpanExporter, MeterProvider, InMemoryMetricReader]) -> None:
    tracer, exporter, meter, reader = telemetry
    gateway = mock_gateway(send_reason=False)
    StarletteInstrumentor.instrument_app(gateway, tracer_provider=tracer, meter_provider=meter)
    try:
        async for answer in _status_current(gateway):
            assert answer.status_code == 200
    finally:
        StarletteInstrumentor.uninstrument_app(gateway)
    servers = [span for span in exporter.get_finished_spans() if span.kind.name == "SERVER"]
    assert [span.name for span in servers] == ["POST /api2/json/access/ticket", f"GET {STATUS}"]
    assert servers[1].attributes is not None and servers[1].attributes["http.route"] == STATUS
    assert _route_attributes(reader) == {"/api2/json/access/ticket", STATUS}


async def test_an_embedding_app_instrumented_by_opentelemetry_sees_the_templates(
        telemetry: tuple[TracerProvider, InMemorySpanExporter, MeterProvider, InMemoryMetricReader]) -> None:
    tracer, exporter, meter, reader = telemetry
    gateway: Gateway = mock_gateway(send_reason=False)

    async def home(_request: object) -> PlainTextResponse:
        return PlainTextResponse("host app")

    host = Starlette(routes=[Route("/", home), *gateway.routes], lifespan=gateway.lifespan)
    StarletteInstrumentor.instrument_app(host, tracer_provider=tracer, meter_provider=meter)
    try:
        async for answer in _status_current(host):
            assert answer.status_code == 200
    finally:
        StarletteInstrumentor.uninstrument_app(host)
    names = [span.name for span in exporter.get_finished_spans() if span.kind.name == "SERVER"]
    assert names == ["POST /api2/json/access/ticket", f"GET {STATUS}"]  # never the concrete path
    assert _route_attributes(reader) == {"/api2/json/access/ticket", STATUS}
