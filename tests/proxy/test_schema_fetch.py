"""``--apidoc upstream``: the proxy takes its schema from the cluster at startup, trusting the nodes as it
does when proxying, and falls back to a local version with a warning when no node serves it."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pvegateway.apidoc.schema import load_schema
from pvegateway.apidoc.sources import SchemaError, resolve
from pvegateway.backends.proxy import ProxyOptions
from pvegateway.backends.proxy.schema_fetch import fetch_upstream_schema, upstream_schema
from pvegateway.testing import PVEMock, running_mock
from tests.live import live_server

Certificate = tuple[Path, Path, str]
WRONG_PIN = ":".join(["AB"] * 32)


@pytest.fixture
def node91(node_certificate: Certificate) -> Iterator[PVEMock]:
    with running_mock(tls=True, certificate=node_certificate, apidoc="9.1.11") as mock:
        yield mock


@contextlib.contextmanager
def refusing_port() -> Iterator[int]:
    """A port that refuses connections: bound (so nothing else takes it) but not listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


class Warnings(list[str]):
    def __call__(self, message: str) -> None:
        self.append(message)


@pytest.mark.parametrize("trust", ["fingerprint", "ca_file", "insecure"])
def test_the_schema_is_fetched_from_the_node(tmp_path: Path, node91: PVEMock, trust: str) -> None:
    trusts: dict[str, dict[str, Any]] = {
        "fingerprint": {"fingerprints": [node91.fingerprint]},
        "ca_file": {"ca_file": node91.certificate},
        "insecure": {"insecure": True},
    }
    options = trusts[trust]
    warnings = Warnings()
    got = upstream_schema(ProxyOptions(upstreams=[node91.url], **options), tmp_path, "9.2", warnings)
    assert warnings == []
    path = Path(got)
    assert path == tmp_path / f"apidoc-upstream-127.0.0.1-{node91.port}.json"
    assert path.read_bytes() == resolve("9.1.11").path.read_bytes()  # the JSON as the node wrote it
    assert len(load_schema(path).operations) == 650  # the node's version, not the gateway's default (676)


@pytest.mark.parametrize(("trust", "reason"), [
    ({"fingerprints": [WRONG_PIN]}, "TLS certificate does not match the pinned fingerprint"),
    ({}, "TLS certificate not trusted"),  # system CAs do not know a node's self-signed certificate
])
def test_an_untrusted_node_is_not_read_and_the_fallback_is_used(
    tmp_path: Path, node91: PVEMock, trust: dict[str, Any], reason: str,
) -> None:
    warnings = Warnings()
    got = upstream_schema(ProxyOptions(upstreams=[node91.url], **trust), tmp_path, "9.1.11", warnings)
    assert got == "9.1.11"
    assert len(warnings) == 1
    assert warnings[0].startswith("pvegateway: cannot fetch the schema from upstream (")
    assert f"127.0.0.1:{node91.port}: {reason}" in warnings[0]
    assert warnings[0].endswith("; using local version 9.1.11")
    assert list(tmp_path.iterdir()) == []


def _serving(status: int, body: bytes) -> Starlette:
    async def apidoc(_request: Request) -> Response:
        return Response(body, status_code=status, media_type="application/javascript")

    return Starlette(routes=[Route("/pve-docs/api-viewer/apidoc.js", apidoc)])


@pytest.mark.parametrize(("status", "body", "reason"), [
    (200, b"<html><body>Proxmox VE</body></html>", "not an apidoc schema"),
    (200, b"const apiSchema = [];\nlet method2cmd = {};\n", "not an apidoc schema (no tree of API paths)"),
    (200, b"const apiSchema = [{\"path\": \"/version\"", "not an apidoc schema"),
    (200, b'{"data": null}', "not an apidoc schema"),
    (200, b"\xff\xfe[]", "not an apidoc schema"),
    (404, b"", "HTTP 404 Not Found"),
])
def test_an_upstream_serving_no_schema_means_the_fallback(
    tmp_path: Path, node_certificate: Certificate, status: int, body: bytes, reason: str,
) -> None:
    cert, key, fingerprint = node_certificate
    warnings = Warnings()
    with live_server(_serving(status, body), certfile=str(cert), keyfile=str(key)) as url:
        options = ProxyOptions(upstreams=[url], fingerprints=[fingerprint])
        got = upstream_schema(options, tmp_path, None, warnings)
    assert got == "9.2"  # no fallback named: the manifest's default version
    assert len(warnings) == 1
    assert f"{url.removeprefix('https://')}: {reason}" in warnings[0]
    assert warnings[0].endswith("; using local version 9.2")
    assert list(tmp_path.iterdir()) == []


def test_a_node_that_is_down_is_skipped_for_the_next(tmp_path: Path, node91: PVEMock) -> None:
    warnings = Warnings()
    assert node91.fingerprint is not None
    with refusing_port() as down:
        options = ProxyOptions(upstreams=[f"https://127.0.0.1:{down}", node91.url],
                               fingerprints=[f"https://127.0.0.1:{down}={WRONG_PIN}",
                                             f"{node91.url}={node91.fingerprint}"])
        got = upstream_schema(options, tmp_path, "9.2", warnings)
    assert warnings == []
    assert Path(got).name == f"apidoc-upstream-127.0.0.1-{node91.port}.json"
    assert len(load_schema(got).operations) == 650


async def test_the_error_names_every_upstream_and_why(tmp_path: Path, node91: PVEMock) -> None:
    with refusing_port() as down:
        options = ProxyOptions(upstreams=[f"https://127.0.0.1:{down}", node91.url],
                               fingerprints=[f"https://127.0.0.1:{down}={WRONG_PIN}", f"{node91.url}={WRONG_PIN}"])
        with pytest.raises(SchemaError) as raised:
            await fetch_upstream_schema(options, tmp_path)
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(f"no upstream served /pve-docs/api-viewer/apidoc.js - 127.0.0.1:{down}: cannot connect (")
    assert message.endswith(f"; 127.0.0.1:{node91.port}: TLS certificate does not match the pinned fingerprint")
