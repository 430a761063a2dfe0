"""``GET /codegen/openapi`` and ``/codegen/jsonschema``: documents of any installed version, per-client
budgets, and nothing at all unless configured."""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from pvegateway.codegen import CodegenOptions
from pvegateway.ratelimit import RateLimits
from pvegateway.testing import mock_gateway
from tests.codegen.helpers import operation_count, served

ENABLED = CodegenOptions()


def test_the_routes_do_not_exist_unless_configured() -> None:
    with served(None, None) as s:
        for method, path in [("GET", "/codegen/openapi"), ("GET", "/codegen/jsonschema"),
                             ("POST", "/codegen/generate")]:
            assert s.client.request(method, path).status_code == 404
        assert s.client.get("/openapi.json").status_code == 200  # the site itself is there


@pytest.mark.parametrize(("version", "operations"), [("9.1.11", 650), ("9.2", 676), (None, 676)])
def test_openapi_of_any_installed_version(version: str | None, operations: int) -> None:
    with served(None, ENABLED) as s:
        response = s.client.get("/codegen/openapi", params={"version": version} if version else {})
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        document = response.json()
        assert document["openapi"] == "3.1.0"
        assert document["info"]["version"] == (version or "9.2")  # default: the version being served
        assert response.headers["x-pvegateway-schema-version"] == document["info"]["version"]
        assert operation_count(document) == operations


def test_jsonschema_is_draft_2020_12_per_operation() -> None:
    with served(None, ENABLED) as s:
        response = s.client.get("/codegen/jsonschema", params={"version": "9.2"})
        assert response.status_code == 200
        document: dict[str, Any] = response.json()
    assert document["version"] == "9.2"
    assert document["dialect"] == "https://json-schema.org/draft/2020-12/schema"
    operations = document["operations"]
    assert len(operations) == 676
    # every schema is valid against the 2020-12 meta-schema (one pass over all of them)
    meta = Draft202012Validator({"type": "object", "additionalProperties": {
        "type": "object", "required": ["name", "parameters", "returns"],
        "properties": {"parameters": {"$ref": document["dialect"]}, "returns": {"$ref": document["dialect"]}},
    }})
    assert [e.message for e in meta.iter_errors(operations)] == []
    # and they say what PVE checks: the generated client can validate before sending
    vmlist = operations["GET /nodes/{node}/qemu"]
    assert vmlist["name"] == "vmlist"
    parameters = Draft202012Validator(vmlist["parameters"])
    assert parameters.is_valid({"node": "pve1", "full": 1})
    assert not parameters.is_valid({"full": 1})  # node is required
    assert not parameters.is_valid({"node": "pve1", "full": True})  # PVE booleans are 0/1
    assert not parameters.is_valid({"node": "pve1", "bogus": 1})  # no extra parameters
    assert vmlist["returns"]["type"] == "array"
    assert Draft202012Validator(vmlist["returns"]).is_valid([{"vmid": 100, "status": "running"}])


def test_jsonschema_of_another_version() -> None:
    with served(None, ENABLED) as s:
        document = s.client.get("/codegen/jsonschema", params={"version": "9.1.11"}).json()
    assert document["version"] == "9.1.11"
    assert len(document["operations"]) == 650
    assert "GET /cluster/qemu" not in document["operations"]  # new in 9.2


@pytest.mark.parametrize("version", ["9.9", "/etc/passwd", "../apidoc/pve-9.2.json"])
def test_only_installed_version_names_are_accepted(version: str) -> None:
    with served(None, ENABLED) as s:
        for path in ("/codegen/openapi", "/codegen/jsonschema"):
            response = s.client.get(path, params={"version": version})
            assert response.status_code == 400
            body = response.json()
            assert body["data"] is None
            assert body["message"] == "Parameter verification failed.\n"
            assert body["errors"]["version"].startswith(f"unknown schema version '{version}'")


def test_five_an_hour_per_client_then_429_with_retry_after() -> None:
    with served(None, ENABLED) as s:
        for _ in range(5):
            assert s.client.get("/codegen/openapi", params={"version": "9.1.11"}).status_code == 200
        refused = s.client.get("/codegen/openapi", params={"version": "9.1.11"})
        assert refused.status_code == 429
        assert 3500 < int(refused.headers["retry-after"]) <= 3600
        assert refused.json() == {"data": None, "message": refused.json()["message"]}
        assert refused.json()["message"].startswith("codegen: rate limit of 5/hour exceeded - retry in ")
        # each endpoint has its own budget
        assert s.client.get("/codegen/jsonschema", params={"version": "9.1.11"}).status_code == 200


def test_a_shared_rate_limits_instance_is_one_budget_across_gateways() -> None:
    shared = RateLimits("memory://")
    options = CodegenOptions(openapi_rule="2/hour")
    with served(mock_gateway("9.2"), options, shared) as first, \
            served(mock_gateway("9.2"), options, shared) as second:
        assert first.client.get("/codegen/openapi", params={"version": "9.1.11"}).status_code == 200
        assert second.client.get("/codegen/openapi", params={"version": "9.1.11"}).status_code == 200
        assert first.client.get("/codegen/openapi", params={"version": "9.1.11"}).status_code == 429
        assert second.client.get("/codegen/openapi", params={"version": "9.1.11"}).status_code == 429


def test_the_documents_agree_with_the_served_openapi_json() -> None:
    with served(None, ENABLED) as s:
        served_doc = s.client.get("/openapi.json").json()
        generated = json.loads(s.client.get("/codegen/openapi").content)
    assert generated == served_doc
