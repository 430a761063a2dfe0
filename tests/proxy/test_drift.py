"""``--check-responses``: drift from ``returns`` is reported (header, log line), never corrected."""

from __future__ import annotations

import gzip
import json
import logging
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, MutableMapping
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest

from pvegateway.apidoc.operation import Operation
from pvegateway.apidoc.schema import Schema, load_schema
from pvegateway.app import Gateway, make_backend
from pvegateway.backends.base import Streamed
from pvegateway.backends.proxy.drift import HEADER, Drift, check, checked, clean, returns_node
from pvegateway.schema.dialect import read
from pvegateway.testing import Control, gateway_root_password, mock_gateway
from tests.live import live_server

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Certificate = tuple[Path, Path, str]

DRIFT_LOGGER = "pvegateway.proxy.drift"


@cache
def schema() -> Schema:
    return load_schema()


def operation(key: str, returns: Mapping[str, Any] | None = None) -> Operation:
    op = next(o for o in schema().operations if o.key == key)
    return op if returns is None else replace(op, returns=returns)


def drift(returns: Mapping[str, Any], data: Any) -> Drift:
    return check(read(returns), data)


NODES = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {
            "node": {"type": "string"},
            "status": {"type": "string", "enum": ["unknown", "online", "offline"]},
            "maxcpu": {"type": "integer", "optional": 1},
            "cpu": {"type": "number", "optional": 1},
            "online": {"type": "boolean", "optional": 1},
            "disks": {
                "type": "array", "optional": 1,
                "items": {"type": "object", "properties": {"size": {"type": "integer"}, "id": {"type": "string"}}},
            },
        },
    },
}


# --- the checker --------------------------------------------------------------------------------------

def test_matching_data_has_no_drift() -> None:
    data = [{"node": "pve1", "status": "online", "maxcpu": 8, "cpu": 0.25, "online": True,
             "disks": [{"size": 1024, "id": "sda"}]}]
    assert not drift(NODES, data)


def test_pve_scalars_as_perl_sees_them_are_accepted() -> None:
    """PVE does not coerce results: numbers arrive as strings, booleans as 0/1, integers as 3.0."""
    data = [{"node": 5, "status": "online", "maxcpu": "8", "cpu": "0.25", "online": 1},
            {"node": "pve2", "status": "offline", "maxcpu": 4.0, "cpu": 1, "online": "0"},
            {"node": "pve3", "status": "unknown", "maxcpu": "-2", "cpu": "1e-3", "online": False}]
    assert not drift(NODES, data)


def test_a_value_of_the_wrong_type_is_reported_with_its_path() -> None:
    data = [{"node": "pve1", "status": "online"}, {"node": "pve2", "status": "online", "maxcpu": "abc"}]
    found = drift(NODES, data)
    assert (found.count, found.descriptions) == (1, ["data[1].maxcpu: expected integer, got a string"])


@pytest.mark.parametrize(("key", "value", "shown"), [
    ("maxcpu", 3.5, "integer, got a number"),
    ("maxcpu", True, "integer, got a boolean"),
    ("cpu", "fast", "number, got a string"),
    ("online", 2, "boolean, got a number"),
    ("online", "true", "boolean, got a string"),
    ("node", {"name": "pve1"}, "string, got an object"),
    ("node", True, "string, got a boolean"),
    ("disks", "sda", "array, got a string"),
])
def test_clear_type_mismatches(key: str, value: Any, shown: str) -> None:
    found = drift(NODES, [{"node": "pve1", "status": "online", key: value}])
    assert found.descriptions == [f"data[0].{key}: expected {shown}"]


def test_a_missing_property_is_reported_unless_optional() -> None:
    found = drift(NODES, [{"node": "pve1"}, {"status": "online", "node": None}])
    assert found.descriptions == ["data[0]: missing required property 'status'",
                                  "data[1]: missing required property 'node'"]
    required = {"type": "object", "properties": {"a": {"type": "string", "optional": 0},
                                                 "b": {"type": "string", "optional": "0"}}}
    assert drift(required, {}).count == 2


def test_a_value_outside_the_enum_is_reported() -> None:
    found = drift(NODES, [{"node": "pve1", "status": "maintenance"}])
    assert found.descriptions == ["data[0].status: a string that is not one of offline, online, unknown"]
    numeric = {"type": "integer", "enum": [1, 2]}
    assert not drift(numeric, "2")
    assert drift(numeric, 3).descriptions == ["data: a number that is not one of 1, 2"]


def test_nested_arrays_of_objects_report_the_full_path() -> None:
    data = [{"node": "pve1", "status": "online"},
            {"node": "pve2", "status": "online", "disks": [{"size": 1, "id": "a"}, {"size": "big"}]}]
    assert drift(NODES, data).descriptions == ["data[1].disks[1]: missing required property 'id'",
                                               "data[1].disks[1].size: expected integer, got a string"]


def test_unknown_properties_formats_and_bounds_are_not_drift() -> None:
    """PVE's own answers carry extra keys and never had their formats checked: only types count."""
    returns = {"type": "object", "properties": {
        "node": {"type": "string", "format": "pve-node", "pattern": "[a-z]+", "maxLength": 3},
        "port": {"type": "integer", "minimum": 1, "maximum": 10}}}
    assert not drift(returns, {"node": "NOT A NODE NAME", "port": 99999, "extra": [1, 2]})


def test_typed_additional_properties_are_checked() -> None:
    returns = {"type": "object", "additionalProperties": {"type": "integer"}}
    assert drift(returns, {"a": "1", "b": "x"}).descriptions == ["data.*: expected integer, got a string"]


def test_null_where_a_value_is_required() -> None:
    assert drift({"type": "array", "items": {"type": "object"}}, None).descriptions == [
        "data: expected array, got null"]
    assert drift({"type": "array", "items": {"type": "string"}}, ["a", None]).descriptions == [
        "data[1]: expected string, got null"]
    assert not drift({"type": "object", "optional": 1}, None)


def test_typed_one_of_checks_only_the_alternative_for_the_instance_type() -> None:
    returns = {"type": "object", "properties": {
        "protocol": {"type": "string"},
        "area": {"type": "integer", "optional": 1, "type-property": "protocol", "instance-types": ["ospf"]},
        "redistribute": {"type-property": "protocol", "oneOf": [
            {"type": "array", "instance-types": ["ospf"], "items": {"type": "string"}},
            {"type": "integer", "instance-types": ["bgp"]}]}}}
    assert not drift(returns, {"protocol": "bgp", "area": "not ospf", "redistribute": "7"})
    assert not drift(returns, {"protocol": "ospf", "area": 1, "redistribute": ["a"]})
    assert drift(returns, {"protocol": "ospf", "area": "x", "redistribute": 7}).descriptions == [
        "data.area: expected integer, got a string", "data.redistribute: expected array, got a number"]


def test_descriptions_are_capped_but_every_difference_counted() -> None:
    found = drift(NODES, [{"node": "n", "status": "online", "maxcpu": "x"}] * 25)
    assert found.count == 25
    assert len(found.descriptions) == 10


def test_descriptions_are_printable_ascii_whatever_the_schema_says() -> None:
    returns = {"type": "object", "properties": {"evil\r\nSet-Cookie: x": {"type": "integer"}}}
    text = drift(returns, {"evil\r\nSet-Cookie: x": "\u00e9\n"}).descriptions[0]
    assert text == "data.evil\\x0d\\x0aSet-Cookie: x: expected integer, got a string"
    assert clean(text) == text


@pytest.mark.parametrize(("returns", "described"), [
    ({"type": "object", "properties": {"password": {"type": "integer"}, "mode": {"enum": ["a", "b"]}}},
     ["data.password: expected integer, got a string", "data.mode: a string that is not one of a, b"]),
    ({"type": "object", "additionalProperties": {"type": "integer"}},
     ["data.*: expected integer, got a string"] * 3),
])
def test_descriptions_say_where_and_what_kind_never_the_nodes_values(returns: Mapping[str, Any],
                                                                     described: list[str]) -> None:
    """A drifting answer may hold a secret: the report names the place and the kind of mismatch only
    (a key the schema does not name is the node's data too, shown as '*')."""
    secret = "s3cr3t-0f-the-n0de"
    found = drift(returns, {"password": secret, "mode": secret, secret: secret})
    assert found.descriptions == described


def test_null_any_and_untyped_returns_are_not_checked() -> None:
    assert returns_node(operation("PUT /nodes/{node}/config")) is None  # returns: type null
    assert returns_node(operation("GET /version", {})) is None
    assert returns_node(operation("GET /version", {"type": "any"})) is None
    node = returns_node(operation("GET /version"))
    assert node is not None
    assert returns_node(operation("GET /version")) is node  # read once, then kept


# --- checked(): what is read, what is passed on -------------------------------------------------------

class Body:
    """An answer body that remembers whether anyone started reading it."""

    def __init__(self, *chunks: bytes, error: Exception | None = None) -> None:
        self.chunks = chunks
        self.error = error
        self.started = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        self.started = True
        for chunk in self.chunks:
            yield chunk
        if self.error is not None:
            raise self.error


def answer(body: Body, *, status: int = 200, ctype: bytes = b"application/json;charset=UTF-8",
           length: int | None = -1, encoding: bytes | None = None,
           extra: tuple[tuple[bytes, bytes], ...] = ()) -> Streamed:
    size = sum(len(c) for c in body.chunks) if length == -1 else length
    headers = [(b"content-type", ctype), *extra]
    if size is not None:
        headers.append((b"content-length", str(size).encode()))
    if encoding is not None:
        headers.append((b"content-encoding", encoding))
    return Streamed(status, "OK", headers, body.__aiter__())


async def drain(streamed: Streamed) -> bytes:
    if isinstance(streamed.body, bytes):
        return streamed.body
    return b"".join([chunk async for chunk in streamed.body])


def drift_header(streamed: Streamed) -> bytes | None:
    values = [v for k, v in streamed.headers if k == HEADER]
    assert len(values) <= 1
    return values[0] if values else None


DRIFTED = json.dumps({"data": {"version": 9, "release": ["9"], "repoid": "abc"}}).encode()


async def test_drift_adds_one_header_and_keeps_the_body_bytes(caplog: pytest.LogCaptureFixture) -> None:
    body = Body(DRIFTED[:10], DRIFTED[10:])
    with caplog.at_level(logging.WARNING, logger=DRIFT_LOGGER):
        result = await checked(answer(body), operation("GET /version"))
    assert (result.status, await drain(result)) == (200, DRIFTED)
    assert drift_header(result) == b"1 difference: data.release: expected string, got an array"
    assert [r.getMessage() for r in caplog.records] == [
        "response drift on GET /version: 1 difference: data.release: expected string, got an array"]


@pytest.mark.parametrize("encoding", [b"gzip", b"deflate"])
async def test_compressed_answers_are_checked_and_passed_on_compressed(encoding: bytes) -> None:
    packed = gzip.compress(DRIFTED) if encoding == b"gzip" else zlib.compress(DRIFTED)
    result = await checked(answer(Body(packed), encoding=encoding), operation("GET /version"))
    assert await drain(result) == packed
    assert drift_header(result) is not None


async def test_an_answer_that_matches_gets_no_header(caplog: pytest.LogCaptureFixture) -> None:
    good = b'{"data":{"version":"9.2.0","release":"9.2","repoid":"2b8a0d4c"}}'
    with caplog.at_level(logging.WARNING, logger=DRIFT_LOGGER):
        result = await checked(answer(Body(good)), operation("GET /version"))
    assert (drift_header(result), await drain(result), caplog.records) == (None, good, [])


@pytest.mark.parametrize("kwargs", [
    {"status": 500},
    {"ctype": b"text/html"},
    {"length": None},  # no Content-Length: streamed as it comes
    {"length": 5 * 1024 * 1024},
    {"encoding": b"br"},
])
async def test_other_answers_pass_unread(kwargs: dict[str, Any]) -> None:
    body = Body(DRIFTED)
    result = await checked(answer(body, **kwargs), operation("GET /version"))
    assert not body.started
    assert drift_header(result) is None
    assert await drain(result) == DRIFTED


@pytest.mark.parametrize("raw", [b"{not json", b'{"errors":{}}', b'{"data":null,"success":0,"status":500}',
                                 b"\xff\xfe"])
async def test_undecodable_or_failed_answers_pass_unreported(raw: bytes) -> None:
    result = await checked(answer(Body(raw)), operation("GET /version"))
    assert (drift_header(result), await drain(result)) == (None, raw)


async def test_an_upstream_header_of_the_same_name_is_not_passed_on() -> None:
    good = b'{"data":{"version":"9.2.0","release":"9.2","repoid":"2b8a0d4c"}}'
    result = await checked(answer(Body(good), extra=((HEADER, b"forged"),)), operation("GET /version"))
    assert drift_header(result) is None


async def test_a_body_longer_than_the_limit_goes_on_unchecked() -> None:
    """A node that sends more than its Content-Length promised: read up to the limit, then streamed."""
    chunks = [b'{"data":[', b'"x",' * 40, b'"x"]}']
    result = await checked(answer(Body(*chunks), length=20), operation("GET /version"), limit=64)
    assert (drift_header(result), await drain(result)) == (None, b"".join(chunks))


async def test_a_body_cut_mid_way_is_cut_for_the_client_too() -> None:
    error = ConnectionResetError("upstream went away")
    result = await checked(answer(Body(b'{"data":', error=error), length=100), operation("GET /version"))
    received: list[bytes] = []
    assert not isinstance(result.body, bytes)
    with pytest.raises(ConnectionResetError):
        async for chunk in result.body:
            received.append(chunk)
    assert received == [b'{"data":']


async def test_the_header_is_trimmed_and_the_log_names_the_template_only(
        caplog: pytest.LogCaptureFixture) -> None:
    data = {"data": [{"vmid": "x", "status": "running", "k" * 300: []}]}
    returns = {"type": "array", "items": {"type": "object", "properties": {
        "vmid": {"type": "integer"}, "status": {"type": "string"}}, "additionalProperties": {"type": "string"}}}
    op = operation("GET /nodes/{node}/qemu", returns)
    with caplog.at_level(logging.WARNING, logger=DRIFT_LOGGER):
        result = await checked(answer(Body(json.dumps(data).encode())), op)
    header = drift_header(result)
    assert header is not None and len(header) <= 200 and header.startswith(b"2 differences: data[0].vmid")
    assert caplog.records[0].getMessage().startswith("response drift on GET /nodes/{node}/qemu: 2 differences")


# --- end to end: the gateway in proxy mode --------------------------------------------------------------

class Tap:
    """An ASGI wrapper that keeps the body bytes each answer had when it left the upstream."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.sent: dict[str, bytes] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        key = scope["raw_path"].decode() + ("?" + scope["query_string"].decode() if scope["query_string"] else "")
        parts: list[bytes] = []

        async def tapped(message: Message) -> None:
            if message["type"] == "http.response.body":
                parts.append(message.get("body", b""))
                if not message.get("more_body"):
                    self.sent[key] = b"".join(parts)
            await send(message)

        await self.app(scope, receive, tapped)


def proxy_gateway(upstream: str, fingerprint: str | None = None) -> Gateway:
    backend = make_backend("proxy", schema(), upstreams=[upstream], check_responses=True,
                           fingerprints=[fingerprint] if fingerprint else [])
    return Gateway(schema(), backend, send_reason=True)


@pytest.fixture
def mock_upstream(pve_mock_certificate: Certificate) -> Iterator[tuple[Tap, str, str]]:
    """The project's mock over HTTPS behind a tap, and the gateway in front: (tap, gateway URL, ticket)."""
    cert, key, fingerprint = pve_mock_certificate
    mock = mock_gateway()
    tap = Tap(mock)
    with live_server(tap, certfile=str(cert), keyfile=str(key)) as upstream, \
            live_server(proxy_gateway(upstream, fingerprint)) as url:
        login = httpx.post(f"{url}/api2/json/access/ticket",
                           data={"username": "root@pam", "password": gateway_root_password(Control(mock))})
        assert login.status_code == 200
        yield tap, url, login.json()["data"]["ticket"]


COMMON = ["/version", "/nodes", "/cluster/resources", "/nodes/pve1/qemu", "/nodes/pve1/storage",
          "/cluster/status", "/access/users"]


def test_the_mock_answers_common_reads_without_drift(mock_upstream: tuple[Tap, str, str],
                                                     caplog: pytest.LogCaptureFixture) -> None:
    tap, url, ticket = mock_upstream
    with caplog.at_level(logging.WARNING, logger=DRIFT_LOGGER), \
            httpx.Client(base_url=f"{url}/api2/json", cookies={"PVEAuthCookie": ticket}) as client:
        for path in COMMON:
            response = client.get(path)
            assert response.status_code == 200, path
            assert HEADER.decode() not in response.headers, (path, response.headers[HEADER.decode()])
            assert response.content == tap.sent[f"/api2/json{path}"], path
    assert caplog.records == []


def _fill(client: httpx.Client, template: str, known: dict[str, str], listed: dict[str, Any]) -> str | None:
    """A concrete path for ``template``: each parameter from the first item its parent collection lists."""
    segments = template.split("/")
    for index, segment in enumerate(segments):
        if not segment.startswith("{"):
            continue
        name = segment[1:-1]
        value = known.get(name)
        if value is None:
            parent = "/".join(segments[:index])
            if parent not in listed:
                answer = client.get(parent)
                listed[parent] = answer.json().get("data") if answer.status_code == 200 else None
            items = listed[parent]
            first = next((i for i in items if isinstance(i, dict) and name in i), None) if isinstance(
                items, list) else None
            if first is None:
                return None
            value = str(first[name])
        segments[index] = value
    return "/".join(segments)


# The mock answers every checkable GET the way PVE's returns schemas describe; a difference that
# appears fails here (the four the first survey found were fixed in the mock).
KNOWN_MOCK_DRIFT: set[str] = set()


def test_mock_reads_through_the_proxy_match_their_schemas(mock_upstream: tuple[Tap, str, str]) -> None:
    """Every GET the mock answers 200 without required query parameters, through the checking proxy."""
    _, url, ticket = mock_upstream
    drifting: set[str] = set()
    checked_count = 0
    with httpx.Client(base_url=f"{url}/api2/json", cookies={"PVEAuthCookie": ticket}) as client:
        listed: dict[str, Any] = {}
        for op in schema().operations:
            properties = op.parameters.get("properties") or {}
            if op.method != "GET" or any(k not in op.path_params and not v.get("optional")
                                         for k, v in properties.items()):
                continue
            path = _fill(client, op.path, {"node": "pve1"}, listed)
            if path is None:
                continue
            response = client.get(path)
            if response.status_code != 200 or returns_node(op) is None:
                continue
            checked_count += 1
            if HEADER.decode() in response.headers:
                drifting.add(op.key)
    assert checked_count > 150
    assert drifting == KNOWN_MOCK_DRIFT


DRIFTED_NODE = gzip.compress(
    json.dumps({"data": [{"vmid": "one", "status": "running", "name": "x" * 2000}]}).encode(), mtime=0)


async def drifted_node(scope: Scope, receive: Receive, send: Send) -> None:
    """A node whose /version drifted from its schema, gzip-compressed like pveproxy's large answers."""
    if scope["type"] == "lifespan":
        for phase in ("startup", "shutdown"):
            await receive()
            await send({"type": f"lifespan.{phase}.complete"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": [
        (b"content-type", b"application/json;charset=UTF-8"), (b"content-encoding", b"gzip"),
        (b"content-length", str(len(DRIFTED_NODE)).encode())]})
    await send({"type": "http.response.body", "body": DRIFTED_NODE})


def test_a_drifted_node_is_reported_and_its_answer_passed_on_as_sent(caplog: pytest.LogCaptureFixture) -> None:
    secret = "PVEAPIToken=root@pam!ci=5ec2e7-not-for-logs"
    with live_server(drifted_node) as upstream, live_server(proxy_gateway(upstream)) as url, \
            caplog.at_level(logging.WARNING, logger=DRIFT_LOGGER), httpx.Client() as client, \
            client.stream("GET", f"{url}/api2/json/nodes/pve1/qemu?full=1",
                          headers={"authorization": secret, "accept-encoding": "gzip"}) as response:
        raw = b"".join(response.iter_raw())
    assert response.status_code == 200
    assert raw == DRIFTED_NODE
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers[HEADER.decode()] == "1 difference: data[0].vmid: expected integer, got a string"
    [record] = caplog.records
    text = record.getMessage()
    assert text == ("response drift on GET /nodes/{node}/qemu: 1 difference: "
                    "data[0].vmid: expected integer, got a string")
    assert "full=1" not in text and "5ec2e7" not in text
