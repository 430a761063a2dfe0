"""A real server for wire tests: uvicorn with the gateway's protocol, on a socket bound by the test.

Binding first means clients can connect at once (the kernel queues them): nothing waits or sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import uvicorn

from pvegateway.http.server import PVEHttpToolsProtocol, bind, uvicorn_config


@contextlib.contextmanager
def live_server(
    app: Any, *, certfile: str | None = None, keyfile: str | None = None, protocol: type[asyncio.Protocol] | None = None
) -> Iterator[str]:
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    config = uvicorn_config(app, cert=certfile, key=keyfile, log_level="error", access_log=False,
                            protocol=protocol or PVEHttpToolsProtocol)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    scheme = "https" if certfile else "http"
    try:
        yield f"{scheme}://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
