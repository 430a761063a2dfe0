"""Fixtures: a real ``redis-server`` on a free 127.0.0.1 port, mock gateways served on real sockets,
and aiohttp clients that log in like any PVE client."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
import redis

from pvegateway.app import Gateway
from pvegateway.testing import mock_gateway
from tests.live import live_server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def redis_url(redis_server: str) -> Iterator[str]:
    """The shared server, emptied for this test: budgets never leak from one test to the next."""
    client = redis.Redis.from_url(redis_server)
    client.flushall()
    client.close()
    yield redis_server


@contextlib.contextmanager
def serving(gateway: Gateway) -> Iterator[str]:
    """``gateway`` on a real socket; yields the API's base URL."""
    with live_server(gateway) as base:
        yield f"{base}/api2/json"


@pytest.fixture
def mock() -> Gateway:
    """A mock gateway with PVE's reason phrases (served by the gateway's own uvicorn protocol)."""
    return mock_gateway(send_reason=True)


@dataclass
class Answer:
    status: int
    reason: str
    headers: dict[str, str]
    body: Any


async def call(session: aiohttp.ClientSession, method: str, url: str, data: dict[str, str] | None = None) -> Answer:
    async with session.request(method, url, data=data) as response:
        body = await response.json() if response.content_type == "application/json" else await response.read()
        return Answer(response.status, response.reason or "", dict(response.headers), body)


@contextlib.asynccontextmanager
async def client(source: str = "127.0.0.1") -> AsyncIterator[aiohttp.ClientSession]:
    """A client whose connections come from ``source`` (any 127.x.y.z address is this host's loopback)."""
    connector = aiohttp.TCPConnector(local_addr=(source, 0), force_close=True)
    async with aiohttp.ClientSession(connector=connector) as session:
        yield session


async def login(session: aiohttp.ClientSession, api: str, user: str = "root@pam",
                password: str = "pvegateway") -> None:
    """Log ``session`` in: the ticket cookie and CSRF token go with every later request."""
    answer = await call(session, "POST", f"{api}/access/ticket", {"username": user, "password": password})
    assert answer.status == 200, answer
    data = answer.body["data"]
    session.headers["Cookie"] = f"PVEAuthCookie={data['ticket']}"
    session.headers["CSRFPreventionToken"] = data["CSRFPreventionToken"]
