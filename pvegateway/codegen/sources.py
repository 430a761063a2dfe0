"""Where ``POST /codegen/generate`` may take a schema from, and how it is fetched.

An endpoint that makes the gateway fetch a URL is an SSRF vector, admin key or not (a leaked key, or
an admin tricked into a link, would let anyone probe the gateway's network). So the gateway fetches
only from places its configuration names:

- ``source=upstream``: the proxy's own upstreams, exactly as ``--apidoc upstream`` does at startup
  (``/pve-docs/api-viewer/apidoc.js``, the proxy's trust: CA bundle, pins or ``--insecure``);
- ``url=``: an ``http(s)`` URL whose origin (scheme, host, port) is the origin of a configured source
  (``--codegen-source URL``) or of a proxy upstream. Hosts are compared as written, lowercased; no
  user info, no control characters or spaces.

The fetch never follows redirects (the proxy's HTTP/1.1 client does not), reads at most 64 MiB, is
bounded in time, and keeps only a body that parses as an apidoc tree (a JSON tree or an
``apidoc.js``), parsed in a worker thread so the gateway keeps answering meanwhile. URLs of a proxy
upstream are trusted as the proxy trusts that upstream; others by the system CAs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ..apidoc.sources import SchemaError, schema_bytes
from ..backends.proxy.http1 import Client, UpstreamFailure, request_head
from ..backends.proxy.options import ProxyConfigError, ProxyOptions
from ..backends.proxy.pool import endpoints
from ..backends.proxy.schema_fetch import MAX_SCHEMA_BYTES, fetch_upstream_schema
from ..errors import PVEError


class FetchFailed(Exception):
    """The source could not be read, or did not hold a schema; the message says which."""


@dataclass(frozen=True, slots=True)
class Origin:
    scheme: str
    host: str
    port: int

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class Target:
    """A URL that passed the checks: where to connect, and the request target to ask for."""

    url: str
    origin: Origin
    request_target: str


def parse_url(url: str) -> Target:
    """``url`` split for fetching; ValueError (with the reason) for anything but a plain http(s) URL."""
    if any(ch <= " " or ch == "\x7f" for ch in url):
        raise ValueError("URL contains spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as err:
        raise ValueError(f"not a URL ({err})") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError("only http and https URLs")
    if not parts.hostname:
        raise ValueError("URL has no host")
    if parts.username is not None or parts.password is not None:
        raise ValueError("URL must not carry user info")
    origin = Origin(parts.scheme, parts.hostname.lower(), port or (443 if parts.scheme == "https" else 80))
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(url, origin, target)


class Sources:
    """The allow-list (configured source URLs and proxy upstreams) and the fetches it permits."""

    def __init__(self, allowed: Sequence[str], proxy: ProxyOptions | None, *, timeout: float = 60.0) -> None:
        self.proxy = proxy
        self.timeout = timeout
        self.allowed = {parse_url(url).origin for url in allowed}
        self.upstreams = {parse_url(url).origin for url in proxy.upstreams} if proxy is not None else set()

    def check(self, url: str) -> Target:
        """The target of an allowed ``url``: 400 when it is not an http(s) URL, 403 when not allowed."""
        try:
            target = parse_url(url)
        except ValueError as err:
            raise PVEError.params({"url": f"value '{url}' is not allowed: {err}"}) from None
        if target.origin not in self.allowed and target.origin not in self.upstreams:
            raise PVEError(403, f"codegen: {target.origin.url} is not a configured schema source "
                                "(--codegen-source URL or a proxy upstream)\n")
        return target

    async def fetch(self, target: Target) -> bytes:
        """The JSON tree served at ``target`` (an ``apidoc.js`` is unwrapped)."""
        origin = target.origin
        try:
            if self.proxy is not None and origin in self.upstreams:  # trusted as the proxy trusts that node
                options = self.proxy
                endpoint = next(e for url, e in endpoints(options)
                                if (url.scheme, url.host, url.port) == (origin.scheme, origin.host, origin.port))
            else:
                options = ProxyOptions(upstreams=[origin.url])
                endpoint = endpoints(options)[0][1]
        except ProxyConfigError as err:  # pragma: no cover - parse_url accepted the same shapes
            raise FetchFailed(str(err)) from None
        client = Client(endpoint, connect_timeout=options.connect_timeout, read_timeout=options.read_timeout,
                        keepalive=0.0)
        head = request_head("GET", target.request_target, endpoint.host_header,
                            {"accept": "application/javascript, application/json", "connection": "close"}, None)
        try:
            async with asyncio.timeout(self.timeout):
                connection = await client.request(head, None, None, idempotent=True)
                try:
                    if connection.status != 200:
                        reason = connection.reason.decode("latin-1")
                        raise FetchFailed(f"{target.url}: HTTP {connection.status} {reason}".rstrip())
                    raw = await connection.read(MAX_SCHEMA_BYTES)
                finally:
                    client.release(connection)
        except UpstreamFailure as failure:
            raise FetchFailed(f"{target.url}: {failure.reason}") from None
        except TimeoutError:
            raise FetchFailed(f"{target.url}: no complete answer within {self.timeout:g} s") from None
        finally:
            client.close()
        return await asyncio.to_thread(tree_bytes, raw, target.url)  # megabytes of JSON: off the event loop

    async def fetch_upstream(self, directory: Path) -> bytes:
        """The schema of the first proxy upstream that serves one (as ``--apidoc upstream`` reads it)."""
        if self.proxy is None:
            raise PVEError.params({"source": "'upstream' needs proxy mode (--mode proxy --upstream URL)"})
        try:
            async with asyncio.timeout(self.timeout):
                path = await fetch_upstream_schema(self.proxy, directory)
        except SchemaError as err:
            raise FetchFailed(str(err)) from None
        except TimeoutError:
            raise FetchFailed(f"no upstream served a schema within {self.timeout:g} s") from None
        return await asyncio.to_thread(path.read_bytes)


def tree_bytes(raw: bytes, where: str) -> bytes:
    """The JSON tree inside ``raw`` (a tree or an ``apidoc.js``), checked to be a tree of API paths."""
    try:
        return schema_bytes(raw)
    except SchemaError as err:
        raise FetchFailed(f"{where}: {err}") from None
