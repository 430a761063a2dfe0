"""A console's WebSocket under ``pvegateway serve`` as operators run it: uvicorn and hypercorn, TLS."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from tests.http.test_servers import served
from tests.mock.test_consoles import log_in, terminal

TIMEOUT = 10


@pytest.mark.parametrize("server", ["uvicorn", "hypercorn"])
async def test_a_termproxy_console_works_over_wss(tmp_path: Path, server: str) -> None:
    with served(["--mode", "mock", "--server", server], tmp_path) as serving:
        connector = aiohttp.TCPConnector(ssl=serving.trust)
        async with aiohttp.ClientSession(serving.url, connector=connector) as session:
            _, ws = await terminal(await log_in(session))
            assert ws.protocol == "binary"
            # pveproxy's frame limit under either server (AnyEvent.pm:543, 651-653)
            await ws.send_bytes(b"0:1:x" + b"\0" * 128 * 1024)
            message = await ws.receive(timeout=TIMEOUT)
            assert message.type == aiohttp.WSMsgType.CLOSE, message
