"""A real server for wire tests: the gateway's own threaded uvicorn, on a socket bound by the test.

Binding first means clients can connect at once (the kernel queues them): nothing waits or sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

from pvegateway.testing_server import ThreadedServer


@contextlib.contextmanager
def live_server(
    app: Any, *, certfile: str | None = None, keyfile: str | None = None, protocol: type[asyncio.Protocol] | None = None
) -> Iterator[str]:
    server = ThreadedServer(app, certfile, keyfile, protocol=protocol)
    server.start()
    scheme = "https" if certfile else "http"
    try:
        yield f"{scheme}://127.0.0.1:{server.port}"
    finally:
        server.close()
