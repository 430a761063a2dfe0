"""The codegen endpoints: documents for client generators, and a live schema swap.

``GET /codegen/openapi?version=V`` and ``GET /codegen/jsonschema?version=V`` answer the OpenAPI document
and the per-operation JSON Schemas of any installed version (default: the one being served), each
within a per-client budget. ``POST /codegen/generate`` (admin key) fetches a schema from an allowed
source and makes the running gateway serve it, without a restart and without disturbing requests in
flight (``Gateway.swap``). Every refusal is in PVE's JSON envelope.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ..apidoc.sources import SchemaError, manifest, sha256, write_atomic
from ..backends.proxy import ProxyBackend
from ..errors import PVEError
from ..http.site import client_of, error_response, success_response
from ..ratelimit import RateLimits, retry_error
from .documents import Documents
from .guard import AdminKeys
from .options import CodegenOptions
from .sources import FetchFailed, Sources, Target

if TYPE_CHECKING:
    from ..apidoc.schema import Schema
    from ..extension import Site

log = logging.getLogger(__name__)

PREFIX = "/codegen"
MAX_BODY = 64 * 1024
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")


@dataclass(frozen=True, slots=True)
class Asked:
    """What ``generate`` was asked: a URL or the upstreams, and an optional name for the schema."""

    target: Target | None
    name: str | None


class Codegen:
    """The codegen endpoints, an extension of the gateway that serves them (``create_app(...,
    extensions=[Codegen(options)])``): built before it, bound to it when it asks for their routes."""

    def __init__(self, options: CodegenOptions, limits: RateLimits | None = None) -> None:
        self.options = options
        self.limits = limits if limits is not None else RateLimits("memory://")
        self.keys = AdminKeys(options.admin_keys)
        self._gateway: Site | None = None
        self.sources = Sources(options.sources, None, timeout=options.fetch_timeout)
        self.documents = Documents(lambda: self.gateway.schema)
        self._schema_dir = options.schema_dir
        self._swapping = asyncio.Lock()  # one swap at a time (a Lock binds to the loop on first use)

    @property
    def gateway(self) -> Site:
        if self._gateway is None:
            raise RuntimeError("the codegen endpoints are not part of a gateway yet")
        return self._gateway

    def routes(self, gateway: Site) -> list[BaseRoute]:
        if self._gateway is not gateway:
            # a proxy's upstreams are a source ("upstream"), fetched with their own trust
            proxy = gateway.backend.options if isinstance(gateway.backend, ProxyBackend) else None
            self._gateway = gateway
            self.sources = Sources(self.options.sources, proxy, timeout=self.options.fetch_timeout)
        return [
            Route(f"{PREFIX}/openapi", self.openapi, methods=["GET"], name="codegen-openapi"),
            Route(f"{PREFIX}/jsonschema", self.jsonschema, methods=["GET"], name="codegen-jsonschema"),
            Route(f"{PREFIX}/generate", self.generate, methods=["POST"], name="codegen-generate"),
        ]

    # --- documents ---------------------------------------------------------------------------------

    async def openapi(self, request: Request) -> Response:
        return await self._document(request, "openapi", self.options.openapi_rule)

    async def jsonschema(self, request: Request) -> Response:
        return await self._document(request, "jsonschema", self.options.jsonschema_rule)

    async def _document(self, request: Request, kind: str, rule: str) -> Response:
        try:
            version = request.query_params.get("version") or None
            if not self.documents.known(version):
                known = ", ".join(self.documents.choices())
                raise PVEError.params({"version": f"unknown schema version '{version}' (installed: {known})"})
            await self._spend(rule, kind, client_of(request))
            built = await self.documents.get(kind, version)
        except PVEError as err:
            return error_response(err)
        return Response(built.body, media_type="application/json",
                        headers={"Cache-Control": "no-cache", "X-PVEGateway-Schema-Version": built.version})

    async def _spend(self, rule: str, *key: str) -> None:
        wait = await self.limits.hit(rule, "codegen", *key)
        if wait is not None:
            raise retry_error(wait, f"codegen: rate limit of {rule} exceeded")

    # --- generate ----------------------------------------------------------------------------------

    async def generate(self, request: Request) -> Response:
        try:
            await self.keys.check(request)
            asked = self._asked(await _params(request))
            async with self._swapping:
                # one budget for the gateway, spent by a swap only: a fetch that fails (a typo in the
                # URL, a node that is down, a body that is no schema) leaves the hour's swap there
                wait = await self.limits.test(self.options.generate_rule, "codegen", "generate")
                if wait is not None:
                    raise retry_error(wait, f"codegen: rate limit of {self.options.generate_rule} exceeded")
                answer = await self._generate(asked)
                await self.limits.hit(self.options.generate_rule, "codegen", "generate")
        except FetchFailed as err:
            return error_response(PVEError(502, f"codegen: cannot use the schema - {err}\n"))
        except PVEError as err:
            return error_response(err)
        return success_response(answer)

    def _asked(self, params: dict[str, str]) -> Asked:
        url, source, name = params.get("url"), params.get("source"), params.get("version")
        errors: dict[str, str] = {}
        if name is not None and not _NAME.match(name):
            errors["version"] = f"value '{name}' does not match the regex pattern"
        if url and source:
            errors["url"] = "give either url or source=upstream, not both"
        elif source is not None and source != "upstream":
            errors["source"] = f"value '{source}' does not have a value in the enumeration 'upstream'"
        elif not url and source is None:
            errors["url"] = "property is missing and it is not optional (or give source=upstream)"
        elif source is not None and self.sources.proxy is None:
            errors["source"] = "'upstream' needs proxy mode (--mode proxy --upstream URL)"
        if errors:
            raise PVEError.params(errors)
        return Asked(self.sources.check(url) if url else None, name)

    async def _generate(self, asked: Asked) -> dict[str, Any]:
        directory = self._directory()
        if asked.target is not None:
            data = await self.sources.fetch(asked.target)
        else:
            data = await self.sources.fetch_upstream(directory / "upstream")
        digest = await asyncio.to_thread(sha256, data)
        kind = "fetched" if asked.target is not None else "upstream"
        name = asked.name or _pinned_name(digest) or f"{kind}-{digest[:12]}"
        schema = await asyncio.to_thread(_store_and_load, directory / f"pve-{name}.json", data)
        previous = self.gateway.swap(schema)
        source = asked.target.url if asked.target is not None else "upstream"
        log.warning("codegen: now serving schema %s (%d operations) from %s, was %s (%d operations)",
                    schema.version, len(schema.operations), source, previous.version, len(previous.operations))
        return {
            "version": schema.version, "operations": len(schema.operations), "sha256": digest,
            "source": source,
            "previous": {"version": previous.version, "operations": len(previous.operations)},
        }

    def _directory(self) -> Path:
        if self._schema_dir is None:
            self._schema_dir = Path(tempfile.mkdtemp(prefix="pvegateway-schemas-"))
        self._schema_dir.mkdir(parents=True, exist_ok=True)
        return self._schema_dir


def _pinned_name(digest: str) -> str | None:
    """The manifest's name for these exact bytes (a node running a pinned version serves them)."""
    for name, info in manifest().get("versions", {}).items():
        if info.get("sha256") == digest:
            return str(name)
    return None


def _store_and_load(path: Path, data: bytes) -> Schema:
    """Save the tree (``/pve-docs/api-viewer/apidoc.js`` serves it from there) and load it."""
    from ..apidoc.schema import load_schema

    write_atomic(path, data)
    try:
        schema = load_schema(path)
    except (SchemaError, ValueError, KeyError, TypeError, AttributeError) as err:
        path.unlink(missing_ok=True)
        raise FetchFailed(f"the tree does not load ({err.__class__.__name__}: {err})") from None
    except RecursionError:
        path.unlink(missing_ok=True)
        raise FetchFailed("the tree does not load (nested too deeply)") from None
    if not schema.operations:
        path.unlink(missing_ok=True)
        raise FetchFailed("the tree has no operations")
    return schema


async def _params(request: Request) -> dict[str, str]:
    """Query and body parameters (form or JSON); the query wins, as in PVE."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise PVEError(413, f"codegen: request body larger than {MAX_BODY} bytes\n")
        chunks.append(chunk)
    body = b"".join(chunks)
    params: dict[str, str] = {}
    if body.strip():
        ctype = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if ctype == "application/json":
            try:
                decoded = json.loads(body)
            except ValueError:
                raise PVEError(400, "codegen: the body is not JSON\n") from None
            if not isinstance(decoded, dict):
                raise PVEError(400, "codegen: the JSON body must be an object\n")
            params = {str(k): str(v) for k, v in decoded.items() if isinstance(v, str | int | float)}
        else:
            params = dict(parse_qsl(body.decode("latin-1"), keep_blank_values=True))
    params.update(request.query_params)
    return params
