"""Proxy tests: a mock PVE node over HTTPS as the upstream, recording what reaches it, and the gateway in
proxy mode in front of it, both on real sockets."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from starlette.types import Message, Receive, Scope, Send

from pvegateway.app import Gateway
from pvegateway.backends.proxy import ProxyBackend, ProxyOptions
from pvegateway.statedir import certificate
from pvegateway.testing import Control, _schema, gateway_root_password, mock_gateway
from pvegateway.testing_server import ThreadedServer


@dataclass
class Seen:
    method: str
    raw_path: bytes
    query: bytes
    headers: dict[str, str]
    body: bytes
    status: int = 0
    answer: bytes = b""


@dataclass
class Recorder:
    """An ASGI wrapper keeping every request that reached the upstream (body included)."""

    app: Any
    seen: list[Seen] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        seen = Seen(scope["method"], scope["raw_path"], scope["query_string"], headers, body)
        self.seen.append(seen)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def record(message: Message) -> None:
            if message["type"] == "http.response.start":
                seen.status = message["status"]
            elif message["type"] == "http.response.body":
                seen.answer += message.get("body", b"")
            await send(message)

        await self.app(scope, replay, record)

    def api(self) -> list[Seen]:
        return [s for s in self.seen if s.raw_path.startswith(b"/api2/")]


@dataclass
class Node:
    """A mock PVE node served over HTTPS with its own certificate."""

    url: str
    fingerprint: str
    certificate: str
    password: str
    control: Control
    recorder: Recorder


@pytest.fixture(scope="session")
def node_certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    return certificate(tmp_path_factory.mktemp("node-tls"))


@pytest.fixture(scope="session")
def gateway_certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    return certificate(tmp_path_factory.mktemp("gateway-tls"))


@contextlib.contextmanager
def serve_node(cert: tuple[Path, Path, str], **options: Any) -> Iterator[Node]:
    gateway = mock_gateway(**options)
    recorder = Recorder(gateway)
    server = ThreadedServer(recorder, str(cert[0]), str(cert[1]))
    control = Control(gateway, server.loop)
    server.start()
    try:
        yield Node(f"https://127.0.0.1:{server.port}", cert[2], str(cert[0]), gateway_root_password(control),
                   control, recorder)
    finally:
        server.close()


@pytest.fixture
def node(node_certificate: tuple[Path, Path, str]) -> Iterator[Node]:
    with serve_node(node_certificate) as served:
        yield served


def proxy_gateway(**options: Any) -> Gateway:
    """The gateway in proxy mode (the schema is loaded once per process)."""
    schema = _schema(None)
    backend = ProxyBackend(schema.operations, ProxyOptions(**options))
    return Gateway(schema, backend, send_reason=True)


@contextlib.contextmanager
def serve_proxy(cert: tuple[Path, Path, str], **options: Any) -> Iterator[str]:
    server = ThreadedServer(proxy_gateway(**options), str(cert[0]), str(cert[1]))
    server.start()
    try:
        yield f"https://127.0.0.1:{server.port}"
    finally:
        server.close()
