"""``--apidoc upstream``: the schema is taken from the cluster itself when the proxy starts.

A proxy validating requests against another PVE version's schema refuses calls the cluster accepts (or
lets through ones it rejects) after every upgrade. Every node serves its schema, without
authentication, as the API viewer's ``/pve-docs/api-viewer/apidoc.js``: the proxy reads it from the
first upstream that answers, trusting the upstreams exactly as it will when proxying (CA bundle,
pinned fingerprints or ``--insecure``), and saves the JSON tree so ``load_schema`` reads it like any
other. When no node serves it, the CLI falls back to a local version and says so.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from ...apidoc.served import APIDOC_JS_PATH
from ...apidoc.sources import SchemaError, manifest, schema_bytes, write_atomic
from .http1 import Client, UpstreamFailure, request_head
from .options import ProxyOptions
from .pool import endpoints

# PVE's tree is a few megabytes: anything far larger is not a schema, and is not read into memory
MAX_SCHEMA_BYTES = 64 * 1024 * 1024


class _Unusable(Exception):
    """A node answered, but not with a schema."""


async def fetch_upstream_schema(options: ProxyOptions, directory: Path) -> Path:
    """The schema of the first upstream serving one, saved as ``directory/apidoc-upstream-HOST-PORT.json``
    (the JSON bytes exactly as the node wrote them); ``SchemaError`` naming each upstream's failure."""
    failures: list[str] = []
    for url, endpoint in endpoints(options):
        client = Client(endpoint, connect_timeout=options.connect_timeout, read_timeout=options.read_timeout,
                        keepalive=0.0)
        try:
            data = await _schema_bytes(client)
        except UpstreamFailure as failure:
            failures.append(f"{endpoint.name}: {failure.reason}")
            continue
        except _Unusable as err:
            failures.append(f"{endpoint.name}: {err}")
            continue
        finally:
            client.close()
        target = directory / f"apidoc-upstream-{url.host}-{url.port}.json"
        write_atomic(target, data)
        return target
    raise SchemaError(f"no upstream served {APIDOC_JS_PATH} - " + "; ".join(failures))


async def _schema_bytes(client: Client) -> bytes:
    """The JSON tree inside the node's ``apidoc.js``, checked to be a non-empty tree."""
    head = request_head("GET", APIDOC_JS_PATH, client.endpoint.host_header, {"connection": "close"}, None)
    connection = await client.request(head, None, None, idempotent=True)
    try:
        if connection.status != 200:
            reason = connection.reason.decode("latin-1")
            raise _Unusable(f"HTTP {connection.status} {reason}".rstrip())
        try:
            raw = await connection.read(MAX_SCHEMA_BYTES)
        except UpstreamFailure as failure:
            if "larger than" not in failure.reason:
                raise
            raise _Unusable(f"answer larger than {MAX_SCHEMA_BYTES >> 20} MiB: not a schema") from None
    finally:
        client.release(connection)
    try:
        return await asyncio.to_thread(schema_bytes, raw)  # megabytes of JSON: off the event loop
    except SchemaError as err:
        raise _Unusable(str(err)) from None


def upstream_schema(options: ProxyOptions, directory: Path, fallback: str | None,
                    warn: Callable[[str], None]) -> str:
    """For the CLI's ``--apidoc upstream``: the fetched file's path, or (with a warning) ``fallback``,
    by default the manifest's default version. The proxy still starts when the nodes are down."""
    try:
        return str(asyncio.run(fetch_upstream_schema(options, directory)))
    except SchemaError as err:
        name = fallback if fallback is not None else str(manifest().get("default", "9.2"))
        warn(f"pvegateway: cannot fetch the schema from upstream ({err}); using local version {name}")
        return name
