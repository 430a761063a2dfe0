"""Liveness and readiness: is the process up, and can it serve the API right now?

Ready means the schema is loaded, the backend's startup ran (and its shutdown has not), and in proxy
mode at least one PVE node accepts a connection, TLS handshake and certificate pin included, so a
wrong ``--fingerprint`` shows here rather than on the first call. Nodes are tried concurrently; the
answer is kept for ``ttl`` seconds and probes arriving meanwhile share one check, so a load balancer
polling every second costs at most one connection per node per ``ttl``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..backends.base import Backend, NodeClient, Upstreams

if TYPE_CHECKING:
    from ..extension import Site


@dataclass(frozen=True, slots=True)
class Verdict:
    ready: bool
    reason: str = ""


def upstream_clients(backend: Backend) -> Sequence[tuple[str, NodeClient]]:
    """The proxy's nodes (name and client); none for backends without upstreams."""
    return backend.upstream_clients() if isinstance(backend, Upstreams) else ()


def _why(error: BaseException | None) -> str:
    """An UpstreamFailure's reason (what the proxy's own 502/503 would say), else the error's type."""
    reason = getattr(error, "reason", None)
    return reason if isinstance(reason, str) else repr(error)


async def _reach(client: NodeClient) -> None:
    connection = await client.connect()  # connect timeout, TLS and pins as requests have them
    connection.abort()


class Readiness:
    def __init__(self, gateway: Site, *, ttl: float = 3.0, timeout: float = 2.0) -> None:
        self.gateway = gateway
        self.ttl = ttl
        self.timeout = timeout  # under a typical probe's own limit, whatever --connect-timeout says
        self._cached: tuple[float, Verdict] | None = None
        self._running: asyncio.Future[Verdict] | None = None

    async def check(self) -> Verdict:
        if not self.gateway.schema.operations:
            return Verdict(False, "no API schema loaded")
        if not self.gateway.serving:
            return Verdict(False, "backend not started")
        clients = upstream_clients(self.gateway.backend)
        if not clients:
            return Verdict(True)
        now = time.monotonic()
        if self._cached is not None and now - self._cached[0] < self.ttl:
            return self._cached[1]
        if self._running is None:
            self._running = asyncio.ensure_future(self._probe(clients))
        return await asyncio.shield(self._running)  # a probe whose caller left still ends and is cached

    async def _probe(self, clients: Sequence[tuple[str, NodeClient]]) -> Verdict:
        try:
            verdict = await self._any_reachable(clients)
            self._cached = (time.monotonic(), verdict)
            return verdict
        finally:
            self._running = None

    async def _any_reachable(self, clients: Sequence[tuple[str, NodeClient]]) -> Verdict:
        tasks = {asyncio.ensure_future(_reach(client)): name for name, client in clients}
        failures: list[str] = []
        pending = set(tasks)
        try:
            async with asyncio.timeout(self.timeout):
                while pending:
                    done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                    errors = [(task, task.exception()) for task in done]  # each one retrieved
                    if any(error is None for _, error in errors):
                        return Verdict(True)
                    failures.extend(f"{tasks[t]}: {_why(e)}" for t, e in errors)
        except TimeoutError:
            failures.extend(f"{tasks[task]}: no connection within {self.timeout:g} s" for task in pending)
        finally:
            for task in pending:
                task.cancel()
        return Verdict(False, "no PVE node reachable - " + "; ".join(sorted(failures)))
