"""The upstream nodes of one cluster: a keep-alive connection pool each, failover between them, and
errors a caller can act on when none answers.

Failover rules: a request that never reached a node (refused, unreachable, TLS or pin failure,
connect timeout) is tried on the next node whatever its method, since nothing was sent. One that
failed after it was sent (reset, read timeout) is retried elsewhere only when idempotent (GET).
A node that failed is tried last for ``down_for`` seconds.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import aiohttp
from aiohttp import ClientResponse, ClientTimeout
from aiohttp.client_exceptions import (
    ClientConnectorCertificateError,
    ClientConnectorError,
    ClientError,
    ClientSSLError,
    ConnectionTimeoutError,
    ServerFingerprintMismatch,
    SocketTimeoutError,
)
from yarl import URL

from ...errors import PVEError
from .options import ProxyOptions, upstream_urls
from .tls import client_ssl

log = logging.getLogger(__name__)

# PVE closes idle keep-alive connections after 5 s (AnyEvent.pm 2109): reuse one only well before that
_KEEPALIVE = 4.0


@dataclass
class Upstream:
    url: URL
    session: aiohttp.ClientSession
    down_until: float = 0.0
    failures: int = 0

    @property
    def name(self) -> str:
        return f"{self.url.host}:{self.url.port}"


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
        elif any(a.sent for a in self.attempts) or any("certificate" in a.reason for a in self.attempts):
            status = 502
        else:
            status = 503
        noun = "node" if len(self.attempts) == 1 else f"{len(self.attempts)} nodes"
        return PVEError(status, f"upstream PVE unavailable ({noun} tried) - {tried}\n")


def describe(err: BaseException) -> tuple[str, bool]:
    """A short reason, and whether the request may have reached the node."""
    if isinstance(err, ServerFingerprintMismatch):
        return "TLS certificate does not match the pinned fingerprint", False
    if isinstance(err, ClientConnectorCertificateError):
        return f"TLS certificate not trusted ({err.certificate_error.__class__.__name__}: " \
               f"{getattr(err.certificate_error, 'verify_message', '') or 'verification failed'})", False
    if isinstance(err, ClientSSLError):
        return "TLS handshake failed", False
    if isinstance(err, ConnectionTimeoutError):
        return "connect timed out", False
    if isinstance(err, ClientConnectorError):
        # asyncio's strerror is "Connect call failed ('host', port)": the errno says what happened
        code, text = err.os_error.errno, err.os_error.strerror
        why = os.strerror(code) if code and code > 0 else text or err.os_error.__class__.__name__
        return f"cannot connect ({why})", False
    if isinstance(err, SocketTimeoutError | TimeoutError):
        return "read timed out", True
    if isinstance(err, aiohttp.ServerDisconnectedError):
        return "connection closed before an answer", True
    if isinstance(err, aiohttp.ClientResponseError):
        # the parser's message spans lines and quotes the node's bytes: its first line says enough
        first = str(err.message).split("\n", 1)[0].rstrip(": ")
        return f"invalid HTTP answer ({first})", True
    if isinstance(err, ClientError | OSError):
        return f"connection failed ({err.__class__.__name__})", True
    return f"failed ({err.__class__.__name__})", True


class Pool:
    def __init__(self, options: ProxyOptions) -> None:
        self.options = options
        self._ssl = client_ssl(options.ca_file, options.fingerprints, options.insecure)
        self._urls = upstream_urls(options)
        self.upstreams: list[Upstream] = []
        self.timeout = ClientTimeout(total=None, connect=options.connect_timeout,
                                     sock_connect=options.connect_timeout, sock_read=options.read_timeout)

    async def start(self) -> None:
        for url in self._urls:
            connector = aiohttp.TCPConnector(
                ssl=self._ssl, limit=self.options.pool_size, keepalive_timeout=_KEEPALIVE,
                enable_cleanup_closed=False,
            )
            session = aiohttp.ClientSession(
                base_url=url, connector=connector, timeout=self.timeout, auto_decompress=False,
                cookie_jar=aiohttp.DummyCookieJar(), skip_auto_headers=("User-Agent", "Content-Type"),
                raise_for_status=False,
            )
            self.upstreams.append(Upstream(url, session))

    async def close(self) -> None:
        for upstream in self.upstreams:
            await upstream.session.close()

    def _order(self) -> list[Upstream]:
        now = time.monotonic()
        healthy = [u for u in self.upstreams if u.down_until <= now]
        down = sorted((u for u in self.upstreams if u.down_until > now), key=lambda u: u.down_until)
        return healthy + down

    async def request(
        self, method: str, target: URL | str, headers: Mapping[str, str], body: bytes | None, *,
        idempotent: bool, data: object = None,
    ) -> tuple[Upstream, ClientResponse]:
        """The first answer any node gives (of any status): the caller reads and releases it."""
        failed = UpstreamError()
        retries_after_send = self.options.retries if idempotent else 0
        for upstream in self._order():
            try:
                response = await upstream.session.request(
                    method, target, headers=headers, data=body if data is None else data,
                    allow_redirects=False,
                )
            except (TimeoutError, ClientError, OSError) as err:
                reason, sent = describe(err)
                failed.attempts.append(Attempt(upstream.name, reason, sent))
                self._mark_down(upstream, reason)
                if sent:
                    if retries_after_send <= 0:
                        break
                    retries_after_send -= 1
                continue
            upstream.down_until = 0.0
            upstream.failures = 0
            return upstream, response
        raise failed

    def _mark_down(self, upstream: Upstream, reason: str) -> None:
        upstream.failures += 1
        upstream.down_until = time.monotonic() + self.options.down_for
        # the path and query are left out on purpose: a query string may carry a password
        log.warning("upstream %s failed: %s (tried last for %.0f s)", upstream.name, reason, self.options.down_for)
