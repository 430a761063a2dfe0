"""A server in a thread, for the pytest plugin (:mod:`pvegateway.testing`) and for tests of its own."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from dataclasses import dataclass, field
from typing import Any

from .http._uvicorn import GracefulServer, PVEHttpToolsProtocol
from .http.listen import bind
from .http.server import uvicorn_config


@dataclass
class ThreadedServer:
    """An ASGI app under uvicorn on a pre-bound socket in a thread: clients can connect at once, and
    ``close()`` stops it without uvicorn's fixed shutdown sleeps, closing every connection."""

    gateway: Any
    certfile: str | None = None
    keyfile: str | None = None
    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)
    errors: list[BaseException] = field(default_factory=list)
    protocol: type[asyncio.Protocol] | None = None

    def __post_init__(self) -> None:
        self.sock = bind("127.0.0.1", 0)
        self.port: int = self.sock.getsockname()[1]
        self.config = uvicorn_config(self.gateway, cert=self.certfile, key=self.keyfile, log_level="error",
                                     access_log=False, log_config=None,
                                     protocol=self.protocol or PVEHttpToolsProtocol)
        self.stop: asyncio.Future[None] = self.loop.create_future()
        self.thread = threading.Thread(target=self._thread, name=f"pve-mock-{self.port}", daemon=True)

    def _thread(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            # the serve drain: idle connections dropped, requests in flight finish
            self.loop.run_until_complete(GracefulServer(self.config, shutdown_timeout=5.0).serve_until(
                [self.sock], self.stop))
        except BaseException as err:  # reported by close()
            self.errors.append(err)
        finally:
            # callbacks the shutdown scheduled last (closing transports) run before the loop goes
            self.loop.run_until_complete(asyncio.sleep(0))
            self.loop.close()

    def start(self) -> None:
        self.thread.start()

    def close(self) -> None:
        def stop() -> None:
            if not self.stop.done():
                self.stop.set_result(None)

        with contextlib.suppress(RuntimeError):  # the loop already ended
            self.loop.call_soon_threadsafe(stop)
        self.thread.join(timeout=10)
        self.sock.close()
        if self.errors:
            raise RuntimeError("the server failed") from self.errors[0]
