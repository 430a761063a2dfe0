"""``create_app`` inside another ASGI service: mounted under a prefix, lifespan handled."""

from __future__ import annotations

import gc
import logging
import signal

import httpx
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

from pvegateway import create_app
from pvegateway.apidoc.schema import load_schema
from pvegateway.app import make_backend
from pvegateway.backends.base import Call, Result
from pvegateway.backends.generic import GenericBackend
from pvegateway.observe import Observability
from pvegateway.ratelimit.cli import make_limiter
from tests.asgi import lifespan


class RecordingBackend(GenericBackend):
    def __init__(self) -> None:
        super().__init__(load_schema("9.1.11").operations)
        self.events: list[str] = []

    async def startup(self) -> None:
        self.events.append("startup")

    async def shutdown(self) -> None:
        self.events.append("shutdown")

    async def handle(self, call: Call) -> Result:
        self.events.append(call.operation.key)
        return await super().handle(call)


async def test_gateway_mounted_under_a_prefix_with_its_lifespan() -> None:
    backend = RecordingBackend()
    gateway = create_app(apidoc="9.1.11", backend=backend)

    async def home(_request: object) -> PlainTextResponse:
        return PlainTextResponse("host app")

    host = Starlette(routes=[Route("/", home), Mount("/pve", app=gateway)], lifespan=gateway.lifespan)
    transport = httpx.ASGITransport(app=host)
    async with lifespan(host), httpx.AsyncClient(transport=transport, base_url="http://pve") as client:
        assert backend.events == ["startup"]
        assert (await client.get("/")).text == "host app"
        version = await client.get("/pve/api2/json/version")
        assert version.status_code == 200 and "data" in version.json()
        missing = await client.get("/pve/api2/json/nowhere")
        assert missing.json()["message"] == "Method 'GET /nowhere' not implemented"
    assert backend.events == ["startup", "GET /version", "shutdown"]
    assert gateway.schema.version == "9.1.11" and len(gateway.schema.operations) == 650


async def test_validators_are_compiled_once_on_first_use() -> None:
    gateway = create_app(apidoc="9.2", backend="generic")
    op = next(o for o in gateway.schema.operations if o.key == "GET /nodes/{node}/qemu/{vmid}/config")
    assert not op.validator.built
    transport = httpx.ASGITransport(app=gateway)
    async with httpx.AsyncClient(transport=transport, base_url="http://pve") as client:
        first = await client.get("/api2/json/nodes/pve1/qemu/100/config", params={"current": "yes"})
        assert first.status_code == 400
        assert op.validator.built
        compiled = op.validator._validator
        await client.get("/api2/json/nodes/pve1/qemu/100/config")
        assert op.validator._validator is compiled


async def test_the_readme_composition_serves_limits_and_observes() -> None:
    """README, Embedding: the whole gateway described once, in create_app."""
    schema = load_schema("9.2")
    backend = make_backend("mock", schema)
    seen = Observability(backend.name, access_log=False, metrics=True)
    gateway = create_app(schema, backend, limiter=make_limiter("read=1/minute"),
                         observer=seen.observer, extensions=[seen])
    transport = httpx.ASGITransport(app=gateway)
    async with lifespan(gateway), httpx.AsyncClient(transport=transport, base_url="http://pve") as client:
        assert (await client.get("/readyz")).json() == {"status": "ready"}
        assert (await client.get("/api2/json/access/domains")).status_code == 200  # open to everyone
        assert (await client.get("/api2/json/access/domains")).status_code == 429  # its one read a minute
        metrics = (await client.get("/metrics")).text
    assert 'pvegateway_requests_total{method="GET",operation="/access/domains",status="429"} 1' in metrics


async def test_embedding_changes_nothing_process_wide() -> None:
    """A library behaves as a library: the host's GC settings, log handlers and signal handlers stay."""
    threshold, frozen = gc.get_threshold(), gc.get_freeze_count()
    handlers = {name: list(logging.getLogger(name).handlers) for name in ("", "pvegateway", "uvicorn")}
    signals = {signo: signal.getsignal(signo) for signo in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    gateway = create_app("9.2", "mock")
    async with lifespan(gateway), httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway),
                                                    base_url="http://pve") as client:
        assert (await client.get("/api2/json/version")).status_code == 401
    assert (gc.get_threshold(), gc.get_freeze_count()) == (threshold, frozen)
    assert {name: list(logging.getLogger(name).handlers) for name in handlers} == handlers
    assert {signo: signal.getsignal(signo) for signo in signals} == signals
