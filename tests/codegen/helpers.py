"""Codegen test helpers: a mock gateway with the codegen endpoints on a real socket, and an httpx client."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from pvegateway import codegen
from pvegateway.app import Gateway
from pvegateway.ratelimit import RateLimits
from pvegateway.testing import mock_gateway
from tests.compose import composed
from tests.live import live_server

ADMIN_KEY = "codegen-admin-key-for-tests"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


@dataclass
class Served:
    gateway: Gateway
    client: httpx.Client
    codegen: codegen.Codegen | None


@contextlib.contextmanager
def served(gateway: Gateway | None = None, options: codegen.CodegenOptions | None = None,
           limits: RateLimits | None = None) -> Iterator[Served]:
    """``gateway`` (default: a 9.2 mock) with ``options`` installed, served on 127.0.0.1."""
    gateway = gateway if gateway is not None else mock_gateway("9.2")
    extension = codegen.extension(options, limits=limits)
    if extension is not None:
        gateway = composed(gateway, extensions=[extension])
    with live_server(gateway) as base, httpx.Client(base_url=base, timeout=30) as client:
        yield Served(gateway, client, extension)


def operation_count(document: dict[str, Any]) -> int:
    return sum(len(methods) for methods in document["paths"].values())


def login(client: httpx.Client) -> dict[str, str]:
    response = client.post("/api2/json/access/ticket", data={"username": "root@pam", "password": "pvegateway"})
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    return {"Cookie": f"PVEAuthCookie={data['ticket']}", "CSRFPreventionToken": data["CSRFPreventionToken"]}
