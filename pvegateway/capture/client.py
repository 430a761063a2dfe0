"""The capture's one way to talk to the cluster: GETs, a bounded number at a time.

It reuses proxy mode's upstream client (TLS verified by default, ``--ca``, ``--fingerprint`` pins,
``--insecure`` only when asked) and its service session (an API token, or a user and password whose
ticket it obtains), so a capture trusts a node exactly as a proxy would. Nothing but ``GET`` can leave
through :meth:`ReadOnlyClient.get`: a capture never changes the cluster it reads.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode

from ..backends.proxy.credentials import ServiceSession
from ..backends.proxy.http1 import UpstreamFailure
from ..backends.proxy.options import ProxyOptions, ServiceCredential
from ..backends.proxy.pool import Pool, UpstreamError
from ..errors import PVEError

MAX_ANSWER = 64 * 1024 * 1024  # a cluster's largest listing (every volume of a big storage) fits well
DEFAULT_CONCURRENCY = 4


class Refused(Exception):
    """The cluster answered a GET with an error: ``status`` and PVE's message."""

    def __init__(self, path: str, status: int, message: str) -> None:
        super().__init__(f"GET {path}: HTTP {status} {message}".rstrip())
        self.path = path
        self.status = status
        self.message = message

    @property
    def forbidden(self) -> bool:
        return self.status in (401, 403)


class Unreachable(Exception):
    """No node answered: the capture cannot go on."""


def api_path(template: str, values: Mapping[str, Any]) -> str:
    """``template`` with each ``{name}`` replaced by its value, percent-escaped as one segment."""
    path = template
    for name, value in values.items():
        path = path.replace("{" + name + "}", quote(str(value), safe=""))
    return path


class ReadOnlyClient:
    def __init__(self, options: ProxyOptions, credential: ServiceCredential, *,
                 concurrency: int = DEFAULT_CONCURRENCY) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._pool = Pool(options)
        self._session = ServiceSession(credential, self._pool)
        self._slots = asyncio.Semaphore(concurrency)
        self.requests = 0

    async def close(self) -> None:
        await self._pool.close()

    async def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """The ``data`` of ``GET /api2/json<path>``; Refused on an error answer, Unreachable if no node answers."""
        target = "/api2/json" + path + ("?" + urlencode(dict(params)) if params else "")
        async with self._slots:
            self.requests += 1
            try:
                headers = await self._session.headers()
            except PVEError as err:
                raise Unreachable(err.message.strip()) from None
            status, body = await self._send(target, {**headers, "accept": "application/json"})
            if status == 401 and self._session.credential.token is None:
                headers = await self._session.headers(renew=True)  # the ticket expired while we read
                status, body = await self._send(target, {**headers, "accept": "application/json"})
        try:
            answer = json.loads(body) if body else {}
        except ValueError:
            answer = {}
        if status != 200:
            message = answer.get("message") if isinstance(answer, dict) else None
            raise Refused(path, status, str(message or "").strip())
        return answer.get("data") if isinstance(answer, dict) else None

    async def _send(self, target: str, headers: dict[str, str]) -> tuple[int, bytes]:
        try:
            upstream, connection = await self._pool.request("GET", target, headers, None, idempotent=True)
        except UpstreamError as err:
            raise Unreachable(err.pve_error().message.strip()) from None
        try:
            body = await connection.read(MAX_ANSWER)
        except UpstreamFailure as failure:
            raise Unreachable(f"{upstream.name}: {failure.reason}") from None
        finally:
            upstream.client.release(connection)
        return connection.status, body
