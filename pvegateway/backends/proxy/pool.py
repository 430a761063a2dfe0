"""The upstream nodes of one cluster: keep-alive connections to each, failover between them, and
errors a caller can act on when none answers.

Failover rules: a request that never reached a node (refused, unreachable, TLS or pin failure,
connect timeout) is tried on the next node whatever its method, since nothing was sent. One that
failed after it was sent (reset, read timeout, garbage) is retried elsewhere only when idempotent
(GET). A node that failed is tried last for ``down_for`` seconds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from ...errors import PVEError
from .http1 import Client, Connection, Endpoint, UpstreamFailure, request_head
from .options import ProxyOptions, UpstreamURL, upstream_urls
from .tls import upstream_trust

log = logging.getLogger(__name__)

# PVE closes idle keep-alive connections after 5 s (AnyEvent.pm 2109): reuse one only well before that
KEEPALIVE = 4.0


@dataclass
class Upstream:
    url: UpstreamURL
    client: Client
    down_until: float = 0.0

    @property
    def name(self) -> str:
        return self.client.endpoint.name


@dataclass
class Attempt:
    """Why one node did not answer: kept for the final error message."""

    upstream: str
    reason: str
    sent: bool


@dataclass
class UpstreamError(Exception):
    attempts: list[Attempt] = field(default_factory=list)

    def pve_error(self) -> PVEError:
        tried = "; ".join(f"{a.upstream}: {a.reason}" for a in self.attempts)
        if all("timed out" in a.reason for a in self.attempts):
            status = 504
        elif any(a.sent or a.reason.startswith("TLS") for a in self.attempts):  # it answered, but wrongly
            status = 502
        else:
            status = 503
        noun = "node" if len(self.attempts) == 1 else f"{len(self.attempts)} nodes"
        return PVEError(status, f"upstream PVE unavailable ({noun} tried) - {tried}\n")


def endpoints(options: ProxyOptions) -> list[tuple[UpstreamURL, Endpoint]]:
    """Each upstream, with the trust that applies to it (its own pins, if it has any)."""
    urls = upstream_urls(options)
    trust = upstream_trust(urls, options.ca_file, options.fingerprints, options.insecure)
    found = []
    for url in urls:
        context, pins = trust.get(url, (None, None))
        found.append((url, Endpoint(url.host, url.port, context, pins)))
    return found


class Pool:
    def __init__(self, options: ProxyOptions) -> None:
        self.options = options
        self.upstreams = [
            Upstream(url, Client(endpoint, connect_timeout=options.connect_timeout,
                                 read_timeout=options.read_timeout, keepalive=KEEPALIVE,
                                 limit=options.pool_size))
            for url, endpoint in endpoints(options)
        ]

    async def close(self) -> None:
        for upstream in self.upstreams:
            upstream.client.close()

    def _order(self) -> list[Upstream]:
        if len(self.upstreams) == 1:
            return self.upstreams  # one node: no order to work out on every request
        now = time.monotonic()
        # a node whose every connection is busy (stalled, most likely) comes after those with one free
        healthy = sorted((u for u in self.upstreams if u.down_until <= now), key=lambda u: u.client.full)
        down = sorted((u for u in self.upstreams if u.down_until > now), key=lambda u: u.down_until)
        return healthy + down

    async def request(
        self, method: str, target: str, headers: dict[str, str], body: bytes | None, *,
        idempotent: bool, stream: AsyncIterator[bytes] | None = None, length: int | None = None,
    ) -> tuple[Upstream, Connection]:
        """The first answer any node gives (of any status): read its body, then ``release`` it."""
        failed = UpstreamError()
        retries_after_send = self.options.retries if idempotent else 0
        if length is None and body is not None:
            length = len(body)
        for upstream in self._order():
            head = request_head(method, target, upstream.client.endpoint.host_header, headers, length)
            try:
                connection = await upstream.client.request(head, body, stream, idempotent=idempotent)
            except UpstreamFailure as failure:
                failed.attempts.append(Attempt(upstream.name, failure.reason, failure.sent))
                self._mark_down(upstream, failure.reason)
                if failure.sent:  # an upload's body is gone once sent: never again
                    if retries_after_send <= 0 or stream is not None:
                        break
                    retries_after_send -= 1
                continue
            upstream.down_until = 0.0
            return upstream, connection
        raise failed

    def _mark_down(self, upstream: Upstream, reason: str) -> None:
        upstream.down_until = time.monotonic() + self.options.down_for
        # the path and query are left out on purpose: a query string may carry a password
        log.warning("upstream %s failed: %s (tried last for %.0f s)", upstream.name, reason, self.options.down_for)
