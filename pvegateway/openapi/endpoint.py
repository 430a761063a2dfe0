"""``/openapi.json``: the document built once, on first use, and served from its encoded bytes."""

from __future__ import annotations

import hashlib
import time
from typing import TYPE_CHECKING, Any

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from .document import SERVER_URL, build_document, encode_document, encode_document_part

if TYPE_CHECKING:
    from ..apidoc.schema import Schema

JSONDict = dict[str, Any]


class OpenAPIEndpoint:
    """ASGI endpoint of ``/openapi.json``: the document is built and encoded once, on first use.

    Building it costs a good part of a startup (``make bench`` prints both); most deployments never
    ask for it, and once built every request is answered from the cached bytes. Under a
    ``root_path`` the server URL gets the prefix: the encoded bytes are patched (no re-encoding),
    once per prefix.
    """

    MAX_PREFIXES = 8

    def __init__(self, schema: Schema) -> None:
        self._schema = schema
        self._document: dict[str, Any] | None = None
        self.build_seconds = 0.0
        self.body = b""
        self.etag = ""
        self._servers = _servers_json(SERVER_URL)
        self._prefixed: dict[str, tuple[bytes, str]] = {}

    @property
    def document(self) -> dict[str, Any]:
        if self._document is None:
            started = time.perf_counter()
            self._document = build_document(self._schema)
            self.build_seconds = time.perf_counter() - started
            self.body = encode_document(self._document)
            self.etag = _etag(self.body)
            if self.body.count(self._servers) != 1:  # pragma: no cover - guarded by build_document
                raise RuntimeError("servers entry not found in the encoded document")
        return self._document

    def body_for(self, root_path: str) -> tuple[bytes, str]:
        """The encoded document and its ETag for a deployment under ``root_path``."""
        self.document  # noqa: B018 - builds the document on first use
        root = root_path.rstrip("/")
        if not root:
            return self.body, self.etag
        cached = self._prefixed.get(root)
        if cached is None:
            body = self.body.replace(self._servers, _servers_json(root + SERVER_URL), 1)
            cached = (body, _etag(body))
            if len(self._prefixed) < self.MAX_PREFIXES:
                self._prefixed[root] = cached
        return cached

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body, etag = self.body_for(str(scope.get("root_path", "")))
        headers = {"ETag": etag, "Cache-Control": "no-cache"}
        request_headers = dict(scope.get("headers") or [])
        if request_headers.get(b"if-none-match", b"").decode("latin-1") == etag:
            response = Response(status_code=304, headers=headers)
        else:
            response = Response(body, media_type="application/json", headers=headers)
        await response(scope, receive, send)


def _servers_json(url: str) -> bytes:
    return b'"servers":' + encode_document_part([{"url": url}])



def _etag(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
