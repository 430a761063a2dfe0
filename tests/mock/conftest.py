"""Mock tests: an in-process mock cluster per test and clients logged in as root (ticket or token)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import cache
from typing import Any

import httpx
import pytest

from pvegateway.apidoc.schema import Schema, load_schema
from pvegateway.app import Gateway
from pvegateway.backends.mock.backend import MockBackend, MockOptions


@cache
def schema(version: str = "9.2") -> Schema:
    return load_schema(version)


def mock_app(options: MockOptions | None = None, version: str = "9.2") -> Gateway:
    loaded = schema(version)
    backend = MockBackend(loaded.operations, options or MockOptions(secret=b"test-secret"))
    return Gateway(loaded, backend)


@dataclass
class PVE:
    """A client of the in-process mock: ``await pve.get("/version")`` returns the parsed response."""

    client: httpx.AsyncClient
    app: Gateway
    headers: dict[str, str]

    @property
    def backend(self) -> MockBackend:
        backend = self.app.backend
        assert isinstance(backend, MockBackend)
        return backend

    async def request(self, method: str, path: str, data: dict[str, Any] | None = None,
                      headers: dict[str, str] | None = None) -> httpx.Response:
        merged = {**self.headers, **(headers or {})}
        url = "/api2/json" + path
        if method in ("GET", "DELETE"):
            return await self.client.request(method, url, params=data, headers=merged)
        return await self.client.request(method, url, data=data, headers=merged)

    async def get(self, path: str, data: dict[str, Any] | None = None) -> httpx.Response:
        return await self.request("GET", path, data)

    async def post(self, path: str, data: dict[str, Any] | None = None) -> httpx.Response:
        return await self.request("POST", path, data)

    async def put(self, path: str, data: dict[str, Any] | None = None) -> httpx.Response:
        return await self.request("PUT", path, data)

    async def delete(self, path: str, data: dict[str, Any] | None = None) -> httpx.Response:
        return await self.request("DELETE", path, data)

    async def data(self, method: str, path: str, data: dict[str, Any] | None = None) -> Any:
        """The ``data`` of a request that must succeed."""
        response = await self.request(method, path, data)
        assert response.status_code == 200, (method, path, response.status_code, response.text)
        return response.json()["data"]


async def login(client: httpx.AsyncClient, username: str = "root@pam", password: str = "pvegateway") -> dict[str, str]:
    response = await client.post("/api2/json/access/ticket", data={"username": username, "password": password})
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    return {"Cookie": f"PVEAuthCookie={data['ticket']}", "CSRFPreventionToken": data["CSRFPreventionToken"]}


@pytest.fixture
async def pve() -> AsyncIterator[PVE]:
    """root@pam, logged in with a ticket, against a fresh default cluster."""
    app = mock_app()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://pve1:8006") as client:
        yield PVE(client, app, await login(client))


@pytest.fixture
async def anonymous() -> AsyncIterator[PVE]:
    app = mock_app()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://pve1:8006") as client:
        yield PVE(client, app, {})
