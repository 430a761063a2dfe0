"""``POST /codegen/generate``: an admin swaps the running gateway's schema for one fetched from an
allowed source, with no restart, no lost state and no disturbed request in flight."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pvegateway.apidoc.served import APIDOC_JS_PATH
from pvegateway.apidoc.sources import resolve, schema_bytes
from pvegateway.app import Gateway, create_app
from pvegateway.backends.base import Call, Result, Streamed, Upgrade
from pvegateway.backends.mock.backend import MockBackend, MockOptions
from pvegateway.codegen import CodegenOptions, sources
from pvegateway.testing import PVEMock, _schema, running_mock
from tests.codegen.helpers import ADMIN, ADMIN_KEY, login, operation_count, served
from tests.live import live_server

ONLY_IN_92 = "/cluster/qemu"
CPU_MODELS = "/cluster/qemu/custom-cpu-models"  # POST: 9.2 only, cputype and reported-model required


@pytest.fixture(scope="module")
def node91() -> Iterator[PVEMock]:
    """A second mock serving PVE 9.1.11: the node (or URL) the new schema is fetched from."""
    with running_mock(apidoc="9.1.11") as mock:
        yield mock


class HoldingMock(MockBackend):
    """The mock, except that a call of ``GET /cluster/qemu`` waits for ``release`` once it has been
    routed and validated (``entered`` says so): a request held in flight for as long as a test wants."""

    def __init__(self) -> None:
        schema = _schema("9.2")
        super().__init__(schema.operations, MockOptions(secret=b"codegen-tests"))
        self.entered = threading.Event()
        self.release = threading.Event()

    async def handle(self, call: Call) -> Result | Streamed | Upgrade:
        if call.operation.path == ONLY_IN_92:
            self.entered.set()
            await asyncio.to_thread(self.release.wait, 30)
        return await super().handle(call)


def test_swap_to_another_version_keeps_state_and_requests_in_flight(node91: PVEMock, tmp_path: Path) -> None:
    backend = HoldingMock()
    gateway = Gateway(_schema("9.2"), backend)
    options = CodegenOptions(admin_keys=[ADMIN_KEY], sources=[node91.url], schema_dir=tmp_path)
    with served(gateway, options) as s, concurrent.futures.ThreadPoolExecutor(1) as pool, \
            contextlib.ExitStack() as cleanup:
        cleanup.callback(backend.release.set)  # never leave the held request (and the server) hanging
        auth = login(s.client)
        created = s.client.post("/api2/json/nodes/pve1/qemu", headers=auth,
                                data={"vmid": 150, "name": "survivor", "memory": 1024})
        assert created.status_code == 200, created.text
        assert operation_count(s.client.get("/openapi.json").json()) == 676

        # a request for an operation only 9.2 has, routed and validated, then held across the swap
        in_flight = pool.submit(s.client.get, f"/api2/json{ONLY_IN_92}", headers=auth)
        assert backend.entered.wait(30)

        swapped = s.client.post("/codegen/generate", headers=ADMIN,
                                data={"url": f"{node91.url}{APIDOC_JS_PATH}"})
        assert swapped.status_code == 200, swapped.text
        data = swapped.json()["data"]
        assert data["version"] == "9.1.11"  # the bytes are the pinned 9.1.11 tree
        assert data["operations"] == 650
        assert data["previous"] == {"version": "9.2", "operations": 676}
        assert data["sha256"] == "9d861ef159e8a01f6152c92e78fcdabfb309eaa604327728f5089fbbb154e286"

        # new requests: the 9.1.11 router (GET /cluster/qemu is not in it) and documents
        missing = s.client.get(f"/api2/json{ONLY_IN_92}", headers=auth)
        assert missing.status_code == 501
        assert missing.json()["message"] == f"Method 'GET {ONLY_IN_92}' not implemented"
        assert operation_count(s.client.get("/openapi.json").json()) == 650
        assert len(s.gateway.schema.operations) == 650
        served_js = s.client.get(APIDOC_JS_PATH)
        assert resolve("9.1.11").path.read_bytes() in served_js.content
        assert s.client.get("/codegen/openapi").json()["info"]["version"] == "9.1.11"

        # the request in flight finishes with the schema it started with
        assert not in_flight.done()
        backend.release.set()
        held = in_flight.result(30)
        assert held.status_code == 200, held.text
        assert isinstance(held.json()["data"], list)

        # the cluster (and the ticket) survived: the VM created before is still there
        config = s.client.get("/api2/json/nodes/pve1/qemu/150/config", headers=auth)
        assert config.status_code == 200, config.text
        assert config.json()["data"]["name"] == "survivor"
        vmids = {vm["vmid"] for vm in s.client.get("/api2/json/nodes/pve1/qemu", headers=auth).json()["data"]}
        assert 150 in vmids
        # and the mock's handlers are bound to the new operations
        again = s.client.post("/api2/json/nodes/pve1/qemu", headers=auth, data={"vmid": 151, "name": "after"})
        assert again.status_code == 200, again.text

        # one swap an hour
        refused = s.client.post("/codegen/generate", headers=ADMIN, data={"url": f"{node91.url}{APIDOC_JS_PATH}"})
        assert refused.status_code == 429
        assert 3500 < int(refused.headers["retry-after"]) <= 3600
        assert refused.json()["data"] is None
        assert (tmp_path / "pve-9.1.11.json").read_bytes() == resolve("9.1.11").path.read_bytes()


@pytest.mark.parametrize(("headers", "message"), [
    ({}, "codegen: missing 'Authorization: Bearer <admin key>' header\n"),
    ({"Authorization": "Bearer wrong-key"}, "codegen: invalid admin key\n"),
    ({"Authorization": f"Basic {ADMIN_KEY}"}, "codegen: missing 'Authorization: Bearer <admin key>' header\n"),
])
def test_generate_needs_the_admin_key(node91: PVEMock, headers: dict[str, str], message: str) -> None:
    options = CodegenOptions(admin_keys=[ADMIN_KEY], sources=[node91.url])
    with served(None, options) as s:
        response = s.client.post("/codegen/generate", headers=headers, data={"url": f"{node91.url}{APIDOC_JS_PATH}"})
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.json() == {"data": None, "message": message}
        assert len(s.gateway.schema.operations) == 676


def test_generate_is_forbidden_without_a_configured_admin_key(node91: PVEMock) -> None:
    with served(None, CodegenOptions(sources=[node91.url])) as s:
        response = s.client.post("/codegen/generate", headers=ADMIN, data={"url": f"{node91.url}{APIDOC_JS_PATH}"})
        assert response.status_code == 403
        assert response.json()["message"].startswith("codegen: schema generation is disabled - no admin key")


@pytest.mark.parametrize(("url", "status", "text"), [
    ("file:///etc/passwd", 400, "only http and https URLs"),
    ("ftp://127.0.0.1/apidoc.js", 400, "only http and https URLs"),
    ("http://user:pw@{host}/x", 400, "must not carry user info"),
    ("http://{host}/a b", 400, "spaces or control characters"),
    ("http://127.0.0.1:1/pve-docs/api-viewer/apidoc.js", 403, "http://127.0.0.1:1 is not a configured schema source"),
    ("https://{host}/pve-docs/api-viewer/apidoc.js", 403, "is not a configured schema source"),  # another scheme
    ("http://localhost:{port}/pve-docs/api-viewer/apidoc.js", 403, "is not a configured schema source"),
    ("http://169.254.169.254/latest/meta-data/", 403, "is not a configured schema source"),
])
def test_only_configured_sources_are_fetched(node91: PVEMock, url: str, status: int, text: str) -> None:
    options = CodegenOptions(admin_keys=[ADMIN_KEY], sources=[node91.url])
    with served(None, options) as s:
        given = url.format(host=f"127.0.0.1:{node91.port}", port=node91.port)
        response = s.client.post("/codegen/generate", headers=ADMIN, data={"url": given})
        assert response.status_code == status, response.text
        body = response.json()
        assert body["data"] is None
        assert text in (body["errors"]["url"] if status == 400 else body["message"])
        # a refused request spends nothing: the hour's one swap is still there
        ok = s.client.post("/codegen/generate", headers=ADMIN, json={"url": f"{node91.url}{APIDOC_JS_PATH}"})
        assert ok.status_code == 200, ok.text


@pytest.mark.parametrize(("params", "field"), [
    ({}, "url"),
    ({"source": "elsewhere"}, "source"),
    ({"source": "upstream"}, "source"),  # not a proxy
    ({"url": "http://x/", "source": "upstream"}, "url"),
    ({"url": "http://x/", "version": "../../etc/x"}, "version"),
])
def test_malformed_requests_get_pve_parameter_errors(params: dict[str, str], field: str) -> None:
    with served(None, CodegenOptions(admin_keys=[ADMIN_KEY])) as s:
        response = s.client.post("/codegen/generate", headers=ADMIN, data=params)
        assert response.status_code == 400
        assert response.json()["message"] == "Parameter verification failed.\n"
        assert field in response.json()["errors"]


def test_a_source_without_a_schema_is_a_502_and_nothing_changes(node91: PVEMock) -> None:
    options = CodegenOptions(admin_keys=[ADMIN_KEY], sources=[node91.url], generate_rule="5/hour")
    with served(None, options) as s:
        for path, reason in [("/nothing-here", "HTTP 404"), ("/openapi.json", "not an apidoc schema")]:
            response = s.client.post("/codegen/generate", headers=ADMIN, params={"url": f"{node91.url}{path}"})
            assert response.status_code == 502
            assert response.json()["data"] is None
            assert reason in response.json()["message"]
        assert len(s.gateway.schema.operations) == 676


async def _deep_tree(_request: Request) -> Response:
    """A 'tree' nested 200,000 deep: more than any JSON decoder recurses."""
    return Response(b"[" * 200_000, media_type="application/json")


def test_failed_fetches_answer_pves_envelope_and_leave_the_hours_swap(node91: PVEMock) -> None:
    """Before, a fetch that failed (a mistyped path, a body that is no schema) had spent the gateway's
    one swap an hour, and a deeply nested body was an uncaught RecursionError: plain-text 500."""
    with live_server(Starlette(routes=[Route("/apidoc.json", _deep_tree)])) as deep:
        options = CodegenOptions(admin_keys=[ADMIN_KEY], sources=[node91.url, deep], generate_rule="1/hour")
        with served(None, options) as s:
            failures = [s.client.post("/codegen/generate", headers=ADMIN, data={"url": url})
                        for url in (f"{node91.url}/pve-docs/api-viewer/apidoc.jss", f"{node91.url}/openapi.json",
                                    f"{deep}/apidoc.json")]
            swapped = s.client.post("/codegen/generate", headers=ADMIN, data={"url": f"{node91.url}{APIDOC_JS_PATH}"})
            again = s.client.post("/codegen/generate", headers=ADMIN, data={"url": f"{node91.url}{APIDOC_JS_PATH}"})
    for failure, reason in zip(failures, ["HTTP 404", "not an apidoc schema (neither a JSON tree",
                                          "not an apidoc schema (nested too deeply)"], strict=True):
        assert failure.status_code == 502
        assert failure.headers["content-type"] == "application/json;charset=UTF-8"
        body = failure.json()
        assert body["data"] is None and body["message"].startswith("codegen: cannot use the schema - ")
        assert reason in body["message"]
    assert swapped.status_code == 200, swapped.text
    assert again.status_code == 429  # the swap, and only it, spent the hour's budget


def test_the_fetched_schema_is_parsed_off_the_event_loop(node91: PVEMock, monkeypatch: pytest.MonkeyPatch) -> None:
    """Parsing an 18 MB tree took 0.74 s on the event loop: every other request waited."""
    parsed_on_loop: list[bool] = []

    def watched(raw: bytes) -> bytes:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            parsed_on_loop.append(False)
        else:
            parsed_on_loop.append(True)
        return schema_bytes(raw)

    monkeypatch.setattr(sources, "schema_bytes", watched)
    with served(None, CodegenOptions(admin_keys=[ADMIN_KEY], sources=[node91.url])) as s:
        swapped = s.client.post("/codegen/generate", headers=ADMIN, data={"url": f"{node91.url}{APIDOC_JS_PATH}"})
    assert swapped.status_code == 200, swapped.text
    assert parsed_on_loop == [False]


def test_a_proxy_swaps_to_its_upstreams_schema(node91: PVEMock, tmp_path: Path) -> None:
    gateway = create_app("9.2", "proxy", upstreams=[node91.url])
    options = CodegenOptions(admin_keys=[ADMIN_KEY], schema_dir=tmp_path, generate_rule="2/hour")
    with served(gateway, options) as s:
        auth = login(s.client)  # through the proxy, from the node
        # 9.2 knows this operation: the gateway refuses the call's missing parameters itself
        incomplete = s.client.post(f"/api2/json{CPU_MODELS}", headers=auth)
        assert incomplete.status_code == 400
        assert set(incomplete.json()["errors"]) == {"cputype", "reported-model"}

        swapped = s.client.post("/codegen/generate", headers=ADMIN, data={"source": "upstream"})
        assert swapped.status_code == 200, swapped.text
        assert swapped.json()["data"]["version"] == "9.1.11"
        assert swapped.json()["data"]["source"] == "upstream"
        gone = s.client.post(f"/api2/json{CPU_MODELS}", headers=auth)
        assert gone.status_code == 501  # not in 9.1.11's router: never validated as a 9.2 call
        assert gone.json()["message"] == f"Method 'POST {CPU_MODELS}' not implemented"
        assert s.client.get("/api2/json/version", headers=auth).status_code == 200  # still proxied

        # an upstream's origin is an allowed URL source without --codegen-source
        by_url = s.client.post("/codegen/generate", headers=ADMIN,
                               data={"url": f"{node91.url}{APIDOC_JS_PATH}", "version": "node-91"})
        assert by_url.status_code == 200, by_url.text
        assert by_url.json()["data"]["version"] == "node-91"


def test_options_come_from_serve_flags_and_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import argparse

    from pvegateway import codegen

    parser = argparse.ArgumentParser()
    codegen.add_arguments(parser)
    assert codegen.from_args(parser.parse_args([])) is None  # off by default
    with pytest.raises(SystemExit):
        codegen.from_args(parser.parse_args(["--codegen-source", "http://pve1:8006"]))
    key_file = tmp_path / "admin.key"
    key_file.write_text("# the admin key\nsecret-one-5f1d9b3e7a2c\n")
    options = codegen.from_args(parser.parse_args(
        ["--codegen", "--admin-key-file", str(key_file), "--codegen-source", "https://pve1:8006"]), tmp_path)
    assert options is not None
    assert list(options.admin_keys) == ["secret-one-5f1d9b3e7a2c"]
    assert list(options.sources) == ["https://pve1:8006"]
    assert options.schema_dir == tmp_path / "apidoc-fetched"
    assert "secret-one-5f1d9b3e7a2c" not in repr(options)
    monkeypatch.setenv(codegen.ADMIN_KEY_ENV, "from-env-2d8b6f0a4e1c7")
    from_env = codegen.from_args(parser.parse_args(["--codegen"]))
    assert from_env is not None and list(from_env.admin_keys) == ["from-env-2d8b6f0a4e1c7"]
    # several worker processes: a swap would reach only one of them
    parser.add_argument("--workers", type=int, default=1)
    with pytest.raises(SystemExit, match="--workers 1"):
        codegen.from_args(parser.parse_args(["--codegen", "--workers", "2"]))
    monkeypatch.delenv(codegen.ADMIN_KEY_ENV)
    documents_only = codegen.from_args(parser.parse_args(["--codegen", "--workers", "2"]))
    assert documents_only is not None and not documents_only.admin_keys
    with pytest.raises(ValueError, match="only http and https"):
        codegen.CodegenOptions(sources=["file:///tmp/x"])
