"""``ProxyBackend``: a validated request goes to a real node; its answer comes back as the node sent it
(status, reason phrase, headers, body bytes: nothing re-serialised), streamed as it arrives."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote

from ...apidoc.operation import Operation
from ...errors import PVEError
from ..base import Call, Identity, Incoming, NodeClient, Streamed, Upload
from . import credentials as cred
from .drift import checked
from .http1 import Connection
from .options import ProxyConfigError, ProxyOptions
from .pool import Pool, Upstream, UpstreamError
from .selfservice import refuse_service_credentials

log = logging.getLogger(__name__)

_SAFE = "/:@!$&'()*,;=-._~"  # kept as they are in a path; '+', '%', '?', '#' and the rest are escaped


def upstream_target(fmt: str, path: str, query: str) -> str:
    """``/api2/<fmt><path>?<query>`` for the node: the path re-escaped, and ``.``/``..`` segments
    escaped so no client or intermediary resolves them into another path."""
    segments = [quote(s, safe=_SAFE) if s not in (".", "..") else s.replace(".", "%2E") for s in path.split("/")]
    target = f"/api2/{quote(fmt, safe='')}{'/'.join(segments)}"
    return f"{target}?{query}" if query else target


async def _upload_body(upload: Upload) -> AsyncIterator[bytes]:
    yield upload.prefix
    async for chunk in upload.rest:
        yield chunk


class ProxyBackend:
    """Validates (the gateway did, before this runs), then forwards to the cluster's nodes."""

    name = "proxy"

    def __init__(self, operations: Sequence[Operation], options: ProxyOptions) -> None:
        if options.api_keys and options.service is None:
            raise ProxyConfigError("gateway API keys need a service credential for the callers they admit")
        self.operations = operations
        self.options = options
        self.pool = Pool(options)
        self.keys = cred.GatewayKeys(options.api_keys)
        self.service = cred.ServiceSession(options.service, self.pool) if options.service else None
        self._service_identity = cred.service_identity(options.service) if options.service else None

    async def startup(self) -> None:
        """Nothing to open ahead: connections to the nodes are made on first use and then kept."""

    def upstream_clients(self) -> Sequence[tuple[str, NodeClient]]:
        return [(upstream.name, upstream.client) for upstream in self.pool.upstreams]

    async def shutdown(self) -> None:
        await self.pool.close()

    async def authenticate(self, request: Incoming) -> Identity | None:
        """A gateway key admits a caller as the service account; everyone else is the node's to judge."""
        if not self.keys or self._service_identity is None:
            return None
        key = self.keys.presented(request.headers)
        if key is None:
            return None
        if not await self.keys.attempt(key, request.client):  # 429 after too many wrong ones
            raise PVEError(401, "Authentication failed!", bare=True)
        return self._service_identity

    def authorize(self, operation: Operation, identity: Identity | None, params: Mapping[str, Any]) -> None:
        """The node checks permissions itself, for the caller's own credentials or the service's."""

    async def handle(self, call: Call) -> Streamed:
        as_service = call.identity is not None and call.identity.credentials == "gateway-key"
        headers = cred.without_credentials(call.headers) if as_service else cred.caller_headers(call.headers)
        if as_service:
            if self.service is None:  # authenticate admits key holders only with a service account
                raise PVEError(500, "gateway API key accepted without a service account\n")
            refuse_service_credentials(call.operation, call.params, self.service.credential.userid)
            headers.update(await self.service.headers())
        target = upstream_target(call.fmt, call.path, call.query)
        method = call.operation.method
        started = time.perf_counter()
        upstream, connection = await self._send(call, method, target, headers)
        if as_service and connection.status == 401 and call.upload is None and self.service is not None:
            # the service ticket expired or was revoked: nothing ran, so one fresh login and again
            upstream.client.release(connection)
            headers.update(await self.service.headers(renew=True))
            upstream, connection = await self._send(call, method, target, headers)
        answer = _streamed(upstream, connection)
        answer.upstream_seconds = time.perf_counter() - started
        return await checked(answer, call.operation) if self.options.check_responses else answer

    async def _send(self, call: Call, method: str, target: str,
                    headers: dict[str, str]) -> tuple[Upstream, Connection]:
        body: bytes | None = call.body if method in ("POST", "PUT") else None
        stream = None
        length = None
        if call.upload is not None:
            if call.upload.length is None:
                raise PVEError(411, "upload needs a Content-Length (PVE refuses chunked bodies)\n")
            length = call.upload.length
            stream = _upload_body(call.upload)
            body = None
        elif body and "content-type" not in headers:
            headers["content-type"] = "application/x-www-form-urlencoded"
        try:
            return await self.pool.request(method, target, headers, body, idempotent=method == "GET",
                                           stream=stream, length=length)
        except UpstreamError as err:
            raise err.pve_error() from None
        except ValueError as err:  # a header value that would split the request
            raise PVEError(400, f"{err}\n") from None


def _streamed(upstream: Upstream, connection: Connection) -> Streamed:
    """The node's answer as it came: whole when it is all in already (the usual small JSON), else as
    a stream the client's pace drains."""
    reason = connection.reason.decode("latin-1")
    if connection.complete:
        body = connection.take_body()
        upstream.client.release(connection)
        return Streamed(connection.status, reason, connection.headers, body)

    async def close() -> None:
        upstream.client.release(connection)

    return Streamed(connection.status, reason, connection.headers, connection.body(), close)
