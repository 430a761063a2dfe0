"""Certificate pins belong to one upstream each: a node's certificate is checked against its own pins,
so the key of one node cannot stand in for another. Two mock nodes with different certificates."""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from pvegateway.backends.proxy.options import ProxyConfigError, ProxyOptions
from pvegateway.backends.proxy.pool import Pool
from pvegateway.cli import _proxy_options, parser
from pvegateway.statedir import certificate

from .conftest import serve_node, serve_proxy
from .test_passthrough import Client
from .test_schema_fetch import refusing_port

Certificate = tuple[Path, Path, str]


@pytest.fixture(scope="module")
def other_certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A second node's own certificate (node_certificate is the first's)."""
    return certificate(tmp_path_factory.mktemp("node-b-tls"))


@pytest.fixture
async def client(gateway_certificate: Certificate) -> AsyncIterator[Client]:
    context = ssl.create_default_context()
    context.load_verify_locations(cafile=str(gateway_certificate[0]))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)) as session:
        yield Client(session)


def serve_options(monkeypatch: pytest.MonkeyPatch, *flags: str) -> dict[str, Any]:
    """ProxyOptions fields as ``pvegateway serve`` makes them from ``flags``."""
    monkeypatch.delenv("PVEGATEWAY_API_KEYS", raising=False)
    monkeypatch.delenv("PVEGATEWAY_SERVICE_TOKEN", raising=False)
    return _proxy_options(parser().parse_args(["serve", "--mode", "proxy", *flags]))


async def test_a_node_presenting_another_nodes_pinned_certificate_is_refused(
    client: Client, node_certificate: Certificate, other_certificate: Certificate, gateway_certificate: Certificate,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Node A is down, and whoever answers at node B's address holds A's certificate and key. Before,
    every --fingerprint was accepted from every upstream, so B passed on A's pin and got the request."""
    with refusing_port() as port_a, serve_node(node_certificate) as impostor:
        node_a = f"https://127.0.0.1:{port_a}"
        options = serve_options(monkeypatch, "--upstream", node_a, "--fingerprint", node_certificate[2],
                                "--upstream", impostor.url, "--fingerprint", other_certificate[2])
        with serve_proxy(gateway_certificate, **options) as proxy:
            answer = await client.call("GET", proxy + "/api2/json/version")
    assert answer.status == 502
    message = str(answer.json()["message"])
    assert message.startswith("upstream PVE unavailable (2 nodes tried) - ")
    assert message.endswith(f"{impostor.url.removeprefix('https://')}: TLS certificate does not match the pinned "
                            "fingerprint\n")
    assert impostor.recorder.seen == []  # nothing was sent to it


@pytest.mark.parametrize("form", ["after-its-upstream", "url=fingerprint"])
async def test_each_node_answers_under_its_own_pin(
    client: Client, node_certificate: Certificate, other_certificate: Certificate, gateway_certificate: Certificate,
    monkeypatch: pytest.MonkeyPatch, form: str,
) -> None:
    with serve_node(other_certificate) as node_b, contextlib.ExitStack() as running_a:
        node_a = running_a.enter_context(serve_node(node_certificate))
        if form == "after-its-upstream":
            flags = ["--upstream", node_a.url, "--fingerprint", node_a.fingerprint,
                     "--upstream", node_b.url, "--fingerprint", node_b.fingerprint]
        else:
            flags = ["--upstream", node_a.url, "--upstream", node_b.url,
                     "--fingerprint", f"{node_b.url}={node_b.fingerprint}",
                     "--fingerprint", f"{node_a.url}={node_a.fingerprint}"]
        options = serve_options(monkeypatch, *flags)
        with serve_proxy(gateway_certificate, **options) as proxy:
            first = await client.call("GET", proxy + "/api2/json/version")
            running_a.close()  # node A goes: node B answers, under its own pin
            second = await client.call("GET", proxy + "/api2/json/version")
        assert [s.raw_path for s in node_a.recorder.api()] == [b"/api2/json/version"]
        assert [s.raw_path for s in node_b.recorder.api()] == [b"/api2/json/version"]
    assert (first.status, first.reason) == (second.status, second.reason) == (401, "No ticket")


@pytest.mark.parametrize(("fingerprints", "message"), [
    (["{fp}"], "with 2 upstreams, say which node it pins: give it right after that node's --upstream, or as "
               "--fingerprint https://HOST:PORT=SHA256"),
    (["https://pve1:8006={fp}"], "upstream pve2:8006 has no --fingerprint while other upstreams are pinned"),
    (["https://pve1:8006={fp}", "https://pve3:8006={fp}"], "https://pve3:8006 is not one of the --upstream nodes"),
    (["https://pve1:8006={fp}", "https://pve2:8006=AB:CD"], "is not a SHA-256 fingerprint"),
])
def test_an_unbound_or_missing_pin_is_refused_at_startup(fingerprints: list[str], message: str,
                                                         node_certificate: Certificate) -> None:
    options = ProxyOptions(upstreams=["https://pve1:8006", "https://pve2:8006"],
                           fingerprints=[f.format(fp=node_certificate[2]) for f in fingerprints])
    with pytest.raises(ProxyConfigError, match=message.replace("+", r"\+")):
        Pool(options)


def test_pins_given_after_both_upstreams_bind_to_the_last_and_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """The old way of writing two pins (both after the upstreams) now pins the second node twice and
    the first not at all: refused at startup with the way to write it, not a node that fails later."""
    pin = ":".join(["AB"] * 32)
    options = serve_options(monkeypatch, "--upstream", "https://pve1:8006", "--upstream", "https://pve2:8006",
                            "--fingerprint", pin, "--fingerprint", pin)
    assert options["fingerprints"] == [f"https://pve2:8006={pin}"] * 2
    with pytest.raises(ProxyConfigError, match="upstream pve1:8006 has no --fingerprint while other upstreams"):
        Pool(ProxyOptions(**options))
