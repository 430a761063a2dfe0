"""Every gateway serves its schema at /pve-docs/api-viewer/apidoc.js as a PVE node does, so a proxy with
``--apidoc upstream`` (or ``pvegateway apidoc import``) can read it from any of them."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import httpx
import pytest

from pvegateway.apidoc.schema import load_schema
from pvegateway.apidoc.sources import json_from_apidoc_js, resolve, tree_from_text
from pvegateway.app import Gateway, create_app
from pvegateway.backends.generic import GenericBackend
from tests.live import live_server

PATH = "/pve-docs/api-viewer/apidoc.js"


@pytest.mark.parametrize(("version", "operations"), [(None, 676), ("9.1.11", 650)])
def test_the_mock_serves_its_schema_as_a_node_does(tmp_path: Path, version: str | None, operations: int) -> None:
    installed = resolve(version).path.read_bytes()
    with live_server(create_app(version, "mock")) as url:
        answer = httpx.get(url + PATH)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/javascript"
    assert answer.content.startswith(b"const apiSchema = [")
    # what a node's file holds after the literal: JavaScript, which readers must skip
    viewer_code = b"let method2cmd = { GET: 'get', POST: 'create', PUT: 'set', DELETE: 'delete' };\n"
    assert answer.content.endswith(b"]\n;\n" + viewer_code)
    assert json_from_apidoc_js(answer.content) == installed  # the tree byte for byte as stored
    assert tree_from_text(answer.text) == tree_from_text(installed.decode())
    saved = tmp_path / "apidoc.js"
    saved.write_bytes(answer.content)
    assert len(load_schema(saved).operations) == operations


def test_a_gateway_started_from_a_nodes_apidoc_js_serves_the_same_file(tmp_path: Path) -> None:
    with live_server(create_app("9.1.11", "generic")) as url:
        first = httpx.get(url + PATH).content
    saved = tmp_path / "apidoc.js"
    saved.write_bytes(first)
    with live_server(create_app(saved, "generic")) as url:
        second = httpx.get(url + PATH)
    assert second.status_code == 200
    assert second.content == first  # not wrapped twice: the tree inside the source is served


def test_a_schema_without_a_source_file_is_not_found() -> None:
    schema = dataclasses.replace(load_schema("9.1.11"), source=None)
    gateway = Gateway(schema, GenericBackend(schema.operations))
    with live_server(gateway) as url:
        answer = httpx.get(url + PATH)
        other_pages = httpx.get(url + "/openapi.json")
    assert answer.status_code == 404
    assert other_pages.status_code == 200  # the rest of the site is unaffected


def test_only_get_is_served() -> None:
    with live_server(create_app("9.1.11", "generic")) as url:
        answer = httpx.post(url + PATH)
    assert answer.status_code == 405
