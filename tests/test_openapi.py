"""The OpenAPI document, /openapi.json, the docs pages and the docs-assets installer."""

from __future__ import annotations

import hashlib
import io
import json
import re
import tarfile
import time
import urllib.error
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate
from starlette.applications import Starlette
from starlette.routing import Route

from pvegateway import openapi
from pvegateway.app import Gateway
from pvegateway.openapi import assets
from tests.conftest import gateway
from tools import docs_assets

VERSIONS = {"9.2": 676, "9.1.11": 650}
BOOLEAN = {"type": "integer", "enum": [0, 1], "x-pve-type": "boolean"}
SCHEMA_KEYS_NEVER_EMITTED = {"optional", "pattern", "format", "typetext", "verbose_description", "oneOf"}
JSON_SCHEMA_NUMBERS = ("minimum", "maximum", "minLength", "maxLength")


def spec_endpoint(app: Gateway) -> openapi.OpenAPIEndpoint:
    for route in app.routes:
        if isinstance(route, Route) and route.path == "/openapi.json":
            assert isinstance(route.endpoint, openapi.OpenAPIEndpoint)
            return route.endpoint
    raise AssertionError("no /openapi.json route")


@cache
def document(version: str) -> dict[str, Any]:
    return spec_endpoint(gateway(version)).document


def operations(doc: Mapping[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for method, op in item.items():
            yield method.upper(), path, op


def resolve(doc: Mapping[str, Any], schema: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    assert isinstance(ref, str) and ref.startswith("#/components/schemas/")
    resolved: Mapping[str, Any] = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return resolved


def body_schema(doc: Mapping[str, Any], method: str, path: str) -> Mapping[str, Any]:
    content = doc["paths"][path][method.lower()]["requestBody"]["content"]
    assert set(content) == {"application/x-www-form-urlencoded", "application/json"}
    return resolve(doc, content["application/json"]["schema"])


def walk_schemas(schema: Any, where: str = "") -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every JSON schema object below ``schema`` (following the structure, not property names)."""
    if not isinstance(schema, Mapping):
        return
    yield where, schema
    for name, sub in (schema.get("properties") or {}).items():
        yield from walk_schemas(sub, f"{where}.{name}")
    for name, sub in (schema.get("x-pve-property-string") or {}).items():
        yield from walk_schemas(sub, f"{where}#{name}")
    yield from walk_schemas(schema.get("items"), f"{where}[]")
    yield from walk_schemas(schema.get("additionalProperties"), f"{where}{{}}")
    for index, sub in enumerate(schema.get("anyOf") or []):
        yield from walk_schemas(sub, f"{where}|{index}")


def all_schemas(doc: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for name, schema in doc["components"]["schemas"].items():
        yield from walk_schemas(schema, name)
    for method, path, op in operations(doc):
        for param in op.get("parameters", []):
            yield from walk_schemas(param["schema"], f"{method} {path} {param['name']}")
        envelope = op["responses"]["200"]["content"]["application/json"]["schema"]
        yield from walk_schemas(envelope, f"{method} {path} ->")


# --- the document -------------------------------------------------------------------------------


@pytest.mark.parametrize("version", list(VERSIONS))
def test_document_is_valid_openapi_31(version: str) -> None:
    endpoint = spec_endpoint(gateway(version))
    doc = endpoint.document
    assert doc["openapi"] == "3.1.0"
    assert doc["servers"] == [{"url": "/api2/json"}]
    assert json.loads(endpoint.body) == doc  # what is served is what is validated
    validate(doc)


@pytest.mark.parametrize(("version", "count"), list(VERSIONS.items()))
def test_every_operation_once_with_unique_ids(version: str, count: int) -> None:
    doc = document(version)
    schema = gateway(version).schema
    assert len(schema.operations) == count
    found = {(method, path) for method, path, _ in operations(doc)}
    assert found == {(op.method, op.path) for op in schema.operations}
    assert len(found) == count
    ids = [op["operationId"] for _, _, op in operations(doc)]
    assert len(set(ids)) == count
    assert doc["paths"]["/nodes/{node}/qemu/{vmid}/status/current"]["get"]["operationId"] == (
        "get_nodes_node_qemu_vmid_status_current"
    )


def test_operation_ids_are_deterministic() -> None:
    schema = gateway("9.2").schema
    first = openapi.build_document(schema)
    second = openapi.build_document(schema)
    assert openapi.encode_document(first) == openapi.encode_document(second)


def test_tags_follow_the_first_path_segment() -> None:
    doc = document("9.2")
    names = [tag["name"] for tag in doc["tags"]]
    assert names == ["access", "cluster", "nodes", "pools", "root", "storage", "version"]
    assert all(tag["description"] for tag in doc["tags"])
    for _, path, op in operations(doc):
        assert op["tags"] == [path.split("/")[1] or "root"]  # GET /, the index of the top-level paths


def test_summary_description_and_pve_extensions() -> None:
    op = document("9.2")["paths"]["/nodes/{node}/qemu"]["post"]
    assert op["summary"] == "Create or restore a virtual machine."
    assert op["x-pve-name"] == "create_vm"
    assert op["x-pve-protected"] is True
    assert op["x-pve-proxyto"] == "node"
    assert op["x-pve-allowtoken"] is True
    assert "check" in op["x-pve-permissions"] or "description" in op["x-pve-permissions"]


def test_parameters_by_method() -> None:
    doc = document("9.2")
    for method, path, op in operations(doc):
        names = re.findall(r"\{([^}]+)\}", path)
        params = op.get("parameters", [])
        assert [p["name"] for p in params if p["in"] == "path"] == names, path
        assert all(p["required"] is True for p in params if p["in"] == "path")
        if method in ("GET", "DELETE"):
            assert "requestBody" not in op
            assert {p["in"] for p in params} <= {"path", "query"}
        else:
            assert all(p["in"] == "path" for p in params)
            if "requestBody" in op:
                assert not set(body_schema(doc, method, path).get("properties", {})) & set(names)
    listing = {p["name"]: p for p in doc["paths"]["/nodes/{node}/qemu"]["get"]["parameters"]}
    assert listing["node"]["in"] == "path"
    assert listing["full"]["in"] == "query" and "required" not in listing["full"]


def test_required_from_optional() -> None:
    doc = document("9.2")
    create = body_schema(doc, "POST", "/nodes/{node}/qemu")
    assert create["required"] == ["vmid"]
    assert create["additionalProperties"] is False
    assert "node" not in create["properties"]
    ticket = body_schema(doc, "POST", "/access/ticket")
    assert set(ticket["required"]) == {"username", "password"}
    assert doc["paths"]["/access/ticket"]["post"]["requestBody"]["required"] is True


def test_boolean_is_integer_zero_or_one() -> None:
    doc = document("9.2")
    full = {p["name"]: p for p in doc["paths"]["/nodes/{node}/qemu"]["get"]["parameters"]}["full"]
    assert {k: full["schema"][k] for k in BOOLEAN} == BOOLEAN
    assert full["schema"]["x-pve-typetext"] == "<boolean>"
    onboot = body_schema(doc, "POST", "/nodes/{node}/qemu")["properties"]["onboot"]
    assert {k: onboot[k] for k in BOOLEAN} == BOOLEAN
    assert onboot["default"] == 0
    for where, schema in all_schemas(doc):
        assert schema.get("type") != "boolean", where


def test_property_string() -> None:
    doc = document("9.2")
    props = body_schema(doc, "POST", "/nodes/{node}/qemu")["properties"]
    agent = props["agent"]["x-pve-property-string"]
    assert agent["enabled"]["x-pve-default-key"] is True
    assert {k: agent["enabled"][k] for k in BOOLEAN} == BOOLEAN
    assert agent["type"]["enum"] == ["virtio", "isa"]
    assert props["agent"]["type"] == "string"
    # the expanded net0 .. net31 share one component
    assert props["net0"] == props["net31"] == {"$ref": "#/components/schemas/qemu.net"}
    assert "net32" not in props
    net = resolve(doc, props["net0"])["x-pve-property-string"]
    assert net["bridge"]["x-pve-format"] == "pve-bridge-id"
    assert net["model"]["x-pve-required"] is True
    assert "x-pve-required" not in net["virtio"]  # an alias, not a key of its own
    assert net["virtio"]["x-pve-alias"] == "macaddr"


def test_dialect_is_converted_everywhere() -> None:
    doc = document("9.2")
    count = 0
    for where, schema in all_schemas(doc):
        count += 1
        assert not SCHEMA_KEYS_NEVER_EMITTED & set(schema), where
        for key in JSON_SCHEMA_NUMBERS:
            if key in schema:
                assert isinstance(schema[key], int | float), where
        if "enum" in schema:
            assert isinstance(schema["enum"], list) and None not in schema["enum"], where
        if "additionalProperties" in schema:
            assert isinstance(schema["additionalProperties"], bool | dict), where
        if "required" in schema:
            assert set(schema["required"]) <= set(schema.get("properties", {})), where
    assert count > 5000
    # minimum given as a string in the tree
    backup = doc["paths"]["/cluster/backup"]["get"]["responses"]["200"]["content"]["application/json"]
    prune = backup["schema"]["properties"]["data"]["items"]["properties"]["prune-backups"]
    assert prune["properties"]["keep-daily"]["minimum"] == 0  # "0" in the tree
    # a Perl regex is kept aside, never as JSON Schema "pattern"
    version = doc["paths"]["/version"]["get"]["responses"]["200"]["content"]["application/json"]
    repoid = version["schema"]["properties"]["data"]["properties"]["repoid"]
    assert repoid["x-pve-pattern"] == "[0-9a-fA-F]{8,64}"
    # enum: null is dropped, the rest kept
    download = body_schema(doc, "POST", "/nodes/{node}/storage/{storage}/download-url")
    assert "enum" not in download["properties"]["compression"]
    assert download["properties"]["compression"]["x-pve-typetext"] == "<string>"


def test_response_envelope() -> None:
    doc = document("9.2")
    version = doc["paths"]["/version"]["get"]["responses"]
    envelope = version["200"]["content"]["application/json"]["schema"]
    assert envelope["required"] == ["data"]
    assert envelope["properties"]["data"]["type"] == "object"
    assert "total" not in envelope["properties"]
    tasks = doc["paths"]["/nodes/{node}/tasks"]["get"]["responses"]["200"]
    tasks_envelope = tasks["content"]["application/json"]["schema"]
    assert tasks_envelope["properties"]["data"]["type"] == "array"
    assert tasks_envelope["properties"]["total"]["type"] == "integer"
    assert "total" not in tasks_envelope["required"]
    network = doc["paths"]["/nodes/{node}/network"]["get"]["responses"]["200"]
    assert "changes" in network["content"]["application/json"]["schema"]["properties"]
    for code, name in [
        ("400", "BadRequest"), ("401", "Unauthorized"), ("403", "Forbidden"),
        ("500", "InternalServerError"), ("501", "NotImplemented"),
    ]:
        assert version[code] == {"$ref": f"#/components/responses/{name}"}
    error = doc["components"]["schemas"]["Error"]
    assert error["properties"]["data"] == {"type": "null"}
    assert error["properties"]["errors"]["additionalProperties"] == {"type": "string"}
    assert set(error["required"]) == {"data", "message"}
    bad = doc["components"]["responses"]["BadRequest"]["content"]["application/json"]
    assert bad["schema"] == {"$ref": "#/components/schemas/Error"}
    assert bad["example"]["errors"]


def test_security() -> None:
    doc = document("9.2")
    schemes = doc["components"]["securitySchemes"]
    assert schemes["PVEAuthCookie"] == {**schemes["PVEAuthCookie"], "type": "apiKey", "in": "cookie",
                                        "name": "PVEAuthCookie"}
    assert schemes["PVEAPIToken"]["in"] == "header"
    assert schemes["PVEAPIToken"]["name"] == "Authorization"
    assert "PVEAPIToken=USER@REALM!TOKENID=SECRET" in schemes["PVEAPIToken"]["description"]
    assert schemes["CSRFPreventionToken"] == {
        **schemes["CSRFPreventionToken"], "type": "apiKey", "in": "header", "name": "CSRFPreventionToken"
    }
    assert doc["security"] == [{"PVEAuthCookie": []}, {"PVEAPIToken": []}]
    schema_ops = {(op.method, op.path): op for op in gateway("9.2").schema.operations}
    open_ops = {(m, p) for m, p, op in operations(doc) if op.get("security") == []}
    assert open_ops == {key for key, op in schema_ops.items() if op.is_open}
    assert ("POST", "/access/ticket") in open_ops and ("GET", "/access/domains") in open_ops
    assert len(open_ops) == 6
    write = doc["paths"]["/nodes/{node}/qemu"]["post"]["security"]
    assert write == [{"PVEAuthCookie": [], "CSRFPreventionToken": []}, {"PVEAPIToken": []}]
    assert "security" not in doc["paths"]["/version"]["get"]  # the document default
    password = doc["paths"]["/access/password"]["put"]["security"]
    assert password == [{"PVEAuthCookie": [], "CSRFPreventionToken": []}]  # allowtoken 0
    upload = doc["paths"]["/nodes/{node}/storage/{storage}/upload"]["post"]
    assert "security" not in upload  # no CSRF token needed: the document default


def test_build_is_fast() -> None:
    schema = gateway("9.2").schema
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        openapi.build_document(schema)
        best = min(best, time.perf_counter() - started)
    assert best < 0.3  # typically 50-90 ms; a loose bound against regressions


# --- serving ------------------------------------------------------------------------------------


def client(app: Any, root_path: str = "") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, root_path=root_path)
    return httpx.AsyncClient(transport=transport, base_url="http://gateway")


async def test_openapi_json_is_served_from_cache(app92: Gateway, monkeypatch: pytest.MonkeyPatch) -> None:
    endpoint = spec_endpoint(app92)

    def no_rebuild(schema: Any) -> dict[str, Any]:
        raise AssertionError("document rebuilt per request")

    monkeypatch.setattr(openapi, "build_document", no_rebuild)
    monkeypatch.setattr(openapi, "encode_document", no_rebuild)
    assert endpoint.body_for("")[0] is endpoint.body
    async with client(app92) as http:
        timings = []
        for _ in range(5):
            started = time.perf_counter()
            response = await http.get("/openapi.json")
            timings.append(time.perf_counter() - started)
            assert response.status_code == 200
            assert response.headers["content-type"] == "application/json"
            assert response.content == endpoint.body
        assert min(timings) < 0.025
        etag = response.headers["etag"]
        cached = await http.get("/openapi.json", headers={"If-None-Match": etag})
        assert cached.status_code == 304 and cached.content == b""


async def test_openapi_json_under_a_prefix(app92: Gateway) -> None:
    endpoint = spec_endpoint(app92)
    async with client(app92, "/pve") as http:
        response = await http.get("/pve/openapi.json")
    assert response.status_code == 200
    assert response.json()["servers"] == [{"url": "/pve/api2/json"}]
    assert len(response.content) == len(endpoint.body) + len("/pve")
    assert endpoint.body_for("/pve")[0] is endpoint.body_for("/pve/")[0]  # encoded once per prefix


ASSET_TYPES = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui-standalone-preset.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon-16x16.png": "image/png",
    "favicon-32x32.png": "image/png",
    "redoc.standalone.js": "text/javascript",
}


def require_assets() -> None:
    problems = docs_assets.verify()
    assert not problems, f"docs assets not installed ({problems}): run `make install`"


def local_refs(page: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', page)


@pytest.mark.parametrize("root", ["", "/pve"])
async def test_docs_pages_use_local_assets(app92: Gateway, root: str) -> None:
    require_assets()
    async with client(app92, root) as http:
        swagger = await http.get(f"{root}/docs")
        redoc = await http.get(f"{root}/redoc")
        for page, needed in [(swagger, "swagger-ui-bundle.js"), (redoc, "redoc.standalone.js")]:
            assert page.status_code == 200
            assert page.headers["content-type"].startswith("text/html")
            assert "://" not in page.text  # nothing from a CDN
            refs = local_refs(page.text)
            assert refs and all(ref.startswith(f"{root}/docs/assets/") for ref in refs)
            assert any(ref.split("?")[0].endswith(needed) for ref in refs)
            pinned = "-".join(package.version for package in docs_assets.PACKAGES)
            assert all(ref.endswith(f"?v={pinned}") for ref in refs)  # a new pin busts browser caches
            assert f'"{root}/openapi.json"' in page.text
            for ref in refs:
                asset = await http.get(ref)
                assert asset.status_code == 200, ref
                name = ref.split("?")[0].rsplit("/", 1)[1]
                assert asset.headers["content-type"].split(";")[0] == ASSET_TYPES[name]
        assert "persistAuthorization: true" in swagger.text
        assert "validatorUrl: null" in swagger.text


async def test_every_asset_is_served(app92: Gateway) -> None:
    require_assets()
    assert dict(assets.ASSETS) == ASSET_TYPES
    async with client(app92) as http:
        for name, media_type in ASSET_TYPES.items():
            response = await http.get(f"/docs/assets/{name}")
            assert response.status_code == 200
            assert response.headers["content-type"].split(";")[0] == media_type
            assert response.content == (assets.VENDOR_DIR / name).read_bytes()
        assert (await http.get("/docs/assets/MANIFEST.json")).status_code == 404
        assert (await http.get("/docs/assets/..%2Fopenapi.py")).status_code == 404


async def test_missing_assets_answer_503(tmp_path: Path) -> None:
    pages = openapi.DocsPages("test", vendor_dir=tmp_path)
    site = Starlette(
        routes=[
            Route("/docs", pages.swagger),
            Route("/redoc", pages.redoc),
            Route("/docs/assets/{name}", pages.asset),
        ]
    )
    async with client(site) as http:
        for url in ("/docs", "/redoc"):
            response = await http.get(url)
            assert response.status_code == 503
            assert response.headers["content-type"].startswith("text/plain")
            assert "make install" in response.text
        assert (await http.get("/docs/assets/swagger-ui.css")).status_code == 404


# --- docs_assets --------------------------------------------------------------------------------


def fake_package(tmp_path: Path, name: str = "fake-ui") -> tuple[docs_assets.Package, bytes]:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for member, content in [("package/ui.js", b"console.log(1);\n"), ("package/other.txt", b"x")]:
            info = tarfile.TarInfo(member)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    data = buffer.getvalue()
    package = docs_assets.Package(
        name=name, version="1.0.0", integrity=docs_assets.integrity_of(data), files={"package/ui.js": "ui.js"}
    )
    return package, data


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(url: str) -> bytes:
        raise urllib.error.URLError("network disabled in tests")

    monkeypatch.setattr(docs_assets, "_download", no_network)


@pytest.mark.usefixtures("offline")
def test_install_from_mirror_is_verified_and_idempotent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package, data = fake_package(tmp_path)
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / package.tarball).write_bytes(data)
    monkeypatch.setattr(docs_assets, "PACKAGES", (package,))
    target = tmp_path / "static" / "vendor"
    assert docs_assets.verify(target)
    assert docs_assets.install(target, mirror=mirror, quiet=True) is True
    assert (target / "ui.js").read_bytes() == b"console.log(1);\n"
    assert sorted(p.name for p in target.iterdir()) == ["MANIFEST.json", "ui.js"]
    assert docs_assets.verify(target) == []
    assert docs_assets.install(target, mirror=mirror, quiet=True) is False  # present and verified
    (target / "ui.js").write_bytes(b"tampered")
    assert docs_assets.verify(target) == ["ui.js was modified"]
    assert docs_assets.install(target, mirror=mirror, quiet=True) is True
    assert docs_assets.verify(target) == []
    assert sorted(p.name for p in target.parent.iterdir()) == ["vendor"]  # no staging left behind


@pytest.mark.usefixtures("offline")
def test_install_fails_clearly_without_mirror_or_network(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package, data = fake_package(tmp_path)
    monkeypatch.setattr(docs_assets, "PACKAGES", (package,))
    target = tmp_path / "vendor"
    with pytest.raises(docs_assets.AssetsError) as missing:
        docs_assets.install(target, mirror=tmp_path / "empty", quiet=True)
    assert package.tarball in str(missing.value) and "network disabled" in str(missing.value)
    assert docs_assets.MIRROR_ENV in str(missing.value)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / package.tarball).write_bytes(data + b"junk")
    with pytest.raises(docs_assets.AssetsError, match="integrity mismatch"):
        docs_assets.install(target, mirror=tmp_path / "bad", quiet=True)
    assert not target.exists()
    monkeypatch.setenv(docs_assets.MIRROR_ENV, str(tmp_path / "empty"))
    monkeypatch.setattr(docs_assets, "VENDOR_DIR", target)
    assert docs_assets.main(["check"]) == 1


def test_pins() -> None:
    require_assets()
    assert docs_assets.SWAGGER_UI.version.startswith("5.")
    assert docs_assets.REDOC.version.startswith("2.")
    for package in docs_assets.PACKAGES:
        assert package.url.startswith("https://registry.npmjs.org/")
        assert package.integrity.startswith("sha512-")
    manifest = json.loads((assets.VENDOR_DIR / assets.MANIFEST).read_text())
    files = manifest["files"]
    for name in ASSET_TYPES:
        assert hashlib.sha256((assets.VENDOR_DIR / name).read_bytes()).hexdigest() == files[name]
