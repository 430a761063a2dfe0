"""Serving the gateway: under uvicorn (with the gateway's own protocol and drain, see ``_uvicorn``) or
under hypercorn, on a socket bound beforehand (``listen``, whose names the CLI takes from here too)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
import socket
from typing import Any

import uvicorn

from ._uvicorn import HEAD_TIMEOUT, SHUTDOWN_TIMEOUT, STARTUP_FAILURE, GracefulServer, PVEHttpToolsProtocol

__all__ = ["run_hypercorn", "run_uvicorn", "tune_gc", "uvicorn_config"]

WS_MAX_SIZE = 128 * 1024
"""pveproxy ends a console's WebSocket on a larger frame (pve-http-server AnyEvent.pm:543, 651-653)."""


def uvicorn_config(
    app: Any, host: str = "127.0.0.1", port: int = 8006, cert: str | None = None, key: str | None = None,
    log_level: str = "warning", protocol: type[asyncio.Protocol] = PVEHttpToolsProtocol, **extra: Any,
) -> uvicorn.Config:
    """uvicorn as the gateway runs it: PVE reason phrases, no uvicorn Server header, and not uvicorn's
    access log, which prints concrete paths with their query strings (passwords travel there); the
    gateway's own (pvegateway.observe) logs path templates only."""
    options: dict[str, Any] = {"access_log": False, **extra}
    return uvicorn.Config(
        app, host=host, port=port, http=protocol, ssl_certfile=cert, ssl_keyfile=key,
        log_level=log_level, lifespan="on", server_header=False, date_header=True,
        proxy_headers=False,  # X-Forwarded-* from clients are not trusted (nor needed)
        ws_max_size=WS_MAX_SIZE,
        **options,
    )


def run_uvicorn(app: Any, sock: socket.socket, cert: str | None, key: str | None, log_level: str,
                shutdown_timeout: float = SHUTDOWN_TIMEOUT, orphan_of: int | None = None) -> None:
    host, port = sock.getsockname()[:2]
    server = GracefulServer(uvicorn_config(app, host, port, cert, key, log_level), shutdown_timeout, orphan_of)
    server.run(sockets=[sock])  # uvicorn's runner picks uvloop (loop="auto"); asyncio.run() would not
    if not server.started:
        raise SystemExit(STARTUP_FAILURE)


def run_hypercorn(app: Any, sock: socket.socket, cert: str | None, key: str | None, log_level: str,
                  shutdown_timeout: float = SHUTDOWN_TIMEOUT, orphan_of: int | None = None) -> None:
    """hypercorn on the pre-bound socket; under TLS it offers h2 and http/1.1 by ALPN (HTTP/2)."""
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    config = Config()
    # hypercorn owns the descriptor from here (and closes it on shutdown, so new connections are refused)
    config.bind = [f"fd://{sock.detach()}"]
    config.certfile = cert
    config.keyfile = key
    config.loglevel = log_level.upper()
    config.include_server_header = False
    config.graceful_timeout = shutdown_timeout
    # a silent TLS client is dropped after HEAD_TIMEOUT, not hypercorn's 60 s; once its handshake is
    # done, hypercorn's own idle timeout (5 s) runs: up to twice HEAD_TIMEOUT in all (uvicorn: once)
    config.ssl_handshake_timeout = HEAD_TIMEOUT
    config.websocket_max_message_size = WS_MAX_SIZE
    asyncio.run(serve(app, config, shutdown_trigger=lambda: _stop_requested(orphan_of)))


async def _stop_requested(orphan_of: int | None) -> None:
    """hypercorn's stop: SIGINT/SIGTERM, or (a worker) its supervisor gone."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    while not stop.is_set() and (orphan_of is None or os.getppid() == orphan_of):
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)


def tune_gc() -> None:
    """``serve`` owns its process (an embedding host keeps its own GC settings). The schema, validators
    and router are tens of thousands of long-lived objects (``make bench`` prints their count and
    memory): frozen, the cyclic GC no longer walks them again and again while it collects each
    request's garbage (and forked workers share their pages). A request allocates hundreds of
    short-lived objects that reference counting frees; collecting every 700 allocations (CPython's
    default) would run the collector several times per request."""
    gc.freeze()
    gc.set_threshold(max(gc.get_threshold()[0], 20_000), *gc.get_threshold()[1:])
