"""Concurrency tests: one mock cluster on a real socket, many aiohttp clients at once.

The mock runs one event loop, so requests interleave at awaits: between a client's read and its
write, and above all while worker tasks run. Tasks here progress by ``polls:N`` (each stops after N
status reads) or ``delay:S`` with the mock's clock moved by the control API, so many tasks overlap
without any test sleeping.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from pvegateway.testing import PVEMock, running_mock

CLIENTS = 48  # concurrent clients (connections) per scenario


@dataclass
class Answer:
    status: int
    body: Any

    @property
    def data(self) -> Any:
        assert isinstance(self.body, dict)
        return self.body.get("data")

    @property
    def message(self) -> str:
        assert isinstance(self.body, dict)
        return str(self.body.get("message", ""))


@dataclass
class Client:
    """Logged-in root@pam over a connection pool wide enough for every concurrent client."""

    session: aiohttp.ClientSession
    api: str
    headers: dict[str, str]

    async def call(self, method: str, path: str, data: dict[str, Any] | None = None) -> Answer:
        kwargs: dict[str, Any] = {"params": data} if method in ("GET", "DELETE") else {"data": data}
        async with self.session.request(method, self.api + path, headers=self.headers, **kwargs) as response:
            return Answer(response.status, await response.json())

    async def ok(self, method: str, path: str, data: dict[str, Any] | None = None) -> Any:
        answer = await self.call(method, path, data)
        assert answer.status == 200, (method, path, answer.status, answer.body)
        return answer.data

    async def wait_task(self, upid: str) -> dict[str, Any]:
        """Read a task's status until it stops (each read is a poll: ``polls:N`` counts them)."""
        node = upid.split(":")[1]
        while True:
            status: dict[str, Any] = await self.ok("GET", f"/nodes/{node}/tasks/{upid}/status")
            if status["status"] == "stopped":
                return status


@pytest.fixture
def mock() -> Iterator[PVEMock]:
    with running_mock(tasks="polls:3") as server:
        yield server


@pytest.fixture
async def client(mock: PVEMock) -> AsyncIterator[Client]:
    connector = aiohttp.TCPConnector(limit=CLIENTS * 2)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as session:
        async with session.post(f"{mock.api_url}/access/ticket",
                                data={"username": mock.user, "password": mock.password}) as response:
            assert response.status == 200
            login = (await response.json())["data"]
        headers = {"Cookie": f"PVEAuthCookie={login['ticket']}", "CSRFPreventionToken": login["CSRFPreventionToken"]}
        yield Client(session, mock.api_url, headers)
