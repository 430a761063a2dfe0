"""``GET /pve-docs/api-viewer/apidoc.js``: the schema served the way a PVE node serves it.

A node's API viewer loads this file, and ``--apidoc upstream`` fetches it from the node at startup, so
every gateway (mock included) answers it like a node would: a proxy can then take its schema from
another gateway, and tests of that fetch run against the mock. The body is the loaded schema's JSON
tree, byte for byte as stored, wrapped as PVE's ``apidoc.js`` is (``sources.json_from_apidoc_js`` gives
the same bytes back); the viewer's own code is not served.
"""

from __future__ import annotations

from pathlib import Path

from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from .sources import json_from_apidoc_js

APIDOC_JS_PATH = "/pve-docs/api-viewer/apidoc.js"
_PREFIX = b"const apiSchema = "
# What follows the literal in a node's file: PVE's JSON ends "]\n", then ";\n" and the viewer's code,
# which starts with this statement. Keeping it means clients parse past real JavaScript, as with a node.
_SUFFIX = b";\nlet method2cmd = { GET: 'get', POST: 'create', PUT: 'set', DELETE: 'delete' };\n"


def apidoc_js(tree: bytes) -> bytes:
    """``tree`` (a JSON tree's bytes) as a node's ``apidoc.js``."""
    return _PREFIX + tree + _SUFFIX


class ServedApidoc:
    """ASGI endpoint: the file is read and wrapped on the first request (the tree is several MB and
    few deployments are ever asked for it), then served from memory. No source file: 404."""

    def __init__(self, source: Path | None) -> None:
        self.source = source
        self._body: bytes | None = None

    def body(self) -> bytes | None:
        if self._body is None and self.source is not None:
            try:
                raw = self.source.read_bytes()
            except OSError:
                return None
            # the source may itself be an apidoc.js (``--apidoc path/to/apidoc.js``): serve its tree
            self._body = apidoc_js(json_from_apidoc_js(raw))
        return self._body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = self.body()
        response: Response
        if body is None:
            response = PlainTextResponse("this gateway's schema has no source file to serve\n", status_code=404)
        else:
            response = Response(body, media_type="application/javascript")
        await response(scope, receive, send)


def apidoc_route(source: Path | None) -> Route:
    return Route(APIDOC_JS_PATH, ServedApidoc(source), methods=["GET"], name="apidoc-js")
