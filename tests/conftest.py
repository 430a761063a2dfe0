"""Shared fixtures: gateways are built once per schema version and reused."""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Iterator
from functools import cache
from typing import TYPE_CHECKING

import pytest
import redis

from pvegateway.app import Gateway, create_app

if TYPE_CHECKING:
    from playwright.sync_api import Browser

CHROMIUM = "/usr/bin/chromium"  # Debian's, which Playwright drives (tests/test_*_browser.py)


@cache
def gateway(version: str) -> Gateway:
    return create_app(version, "generic")


@pytest.fixture
def app92() -> Gateway:
    return gateway("9.2")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the module (~0.5 s to start); each test gets its own page."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def redis_server() -> Iterator[str]:
    """``redis://127.0.0.1:PORT``: ready once it logged "Ready to accept connections" and answered PING."""
    port = _free_port()
    process = subprocess.Popen(
        [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--loglevel", "notice"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    assert process.stdout is not None
    seen = []
    for line in process.stdout:  # ends when redis-server exits: a failed start is reported, not waited on
        seen.append(line)
        if "Ready to accept connections" in line:
            break
    else:
        process.wait()
        raise RuntimeError("redis-server did not start:\n" + "".join(seen))
    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=5)
    try:
        assert client.ping()
        yield f"redis://127.0.0.1:{port}"
    finally:
        client.close()
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()
