"""``/docs`` (Swagger UI) and ``/redoc``, served with locally installed assets (no CDN)."""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, Response

from . import assets

JSONDict = dict[str, Any]


_SWAGGER_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - Swagger UI</title>
<link rel="stylesheet" href="{assets}/swagger-ui.css{v}">
<link rel="icon" type="image/png" sizes="32x32" href="{assets}/favicon-32x32.png{v}">
<link rel="icon" type="image/png" sizes="16x16" href="{assets}/favicon-16x16.png{v}">
<style>body {{ margin: 0; }}</style>
</head>
<body>
<div id="swagger-ui"></div>
<script src="{assets}/swagger-ui-bundle.js{v}"></script>
<script src="{assets}/swagger-ui-standalone-preset.js{v}"></script>
<script>
{plugin}
window.ui = SwaggerUIBundle({{
  url: {spec_url},
  dom_id: "#swagger-ui",
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  plugins: [SwaggerUIBundle.plugins.DownloadUrl, ResolveReferencedOnly],
  layout: "StandaloneLayout",
  deepLinking: true,
  docExpansion: "none",
  defaultModelsExpandDepth: -1,
  filter: true,
  persistAuthorization: true,
  tryItOutEnabled: false,
  displayRequestDuration: true,
  validatorUrl: null
}});
</script>
</body>
</html>
"""

# Swagger UI resolves a subtree (an operation when it is expanded, the security schemes on load) by
# handing the whole document to swagger-client, whose OpenAPI 3.1 strategy converts all of it to ApiDOM
# first: with PVE's document (megabytes: ``make bench`` prints its size) that means seconds before the
# operations list appears, and again for each expanded operation. This plugin gives the resolver only
# what the subtree needs: the top-level keys, the subtree's path item or component group, and the
# components it references (transitively). The answer for the subtree is the same; a reference outside
# ``#/components/<kind>/<name>`` falls back to the whole document.
_RESOLVE_PLUGIN = """
function ResolveReferencedOnly(system) {
  const resolveSubtree = SwaggerUIBundle.plugins.SwaggerClient(system).fn.resolveSubtree;
  const unescape = (token) => token.replace(/~1/g, "/").replace(/~0/g, "~");
  function referencedOnly(spec, path) {
    const kind = path[0], key = path[1];
    if (path.length < 2 || (kind !== "paths" && kind !== "components") || !spec[kind] || !(key in spec[kind])) {
      return spec;
    }
    const components = spec.components || {};
    const picked = {};
    const trimmed = {...spec, paths: {}, components: picked};
    if (kind === "paths") trimmed.paths[key] = spec.paths[key];
    else picked[key] = components[key];
    const pending = [kind === "paths" ? spec.paths[key] : components[key]];
    while (pending.length) {
      const node = pending.pop();
      if (node === null || typeof node !== "object") continue;
      for (const [name, value] of Object.entries(node)) {
        if (name !== "$ref" || typeof value !== "string") { pending.push(value); continue; }
        const match = /^#\\/components\\/([^/]+)\\/([^/]+)$/.exec(value);
        if (!match) return spec;
        const group = unescape(match[1]), item = unescape(match[2]);
        const target = (components[group] || {})[item];
        if (target === undefined) return spec;
        picked[group] = picked[group] || {};
        if (!(item in picked[group])) { picked[group][item] = target; pending.push(target); }
      }
    }
    return trimmed;
  }
  return {fn: {resolveSubtree: (spec, path, options) => resolveSubtree(referencedOnly(spec, path), path, options)}};
}
"""


_REDOC_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - ReDoc</title>
<link rel="icon" type="image/png" sizes="32x32" href="{assets}/favicon-32x32.png{v}">
<style>body {{ margin: 0; padding: 0; }}</style>
</head>
<body>
<div id="redoc"></div>
<script src="{assets}/redoc.standalone.js{v}"></script>
<script>
Redoc.init({spec_url}, {{ hideHostname: false, jsonSampleExpandLevel: 2 }}, document.getElementById("redoc"));
</script>
</body>
</html>
"""

# Images only from the gateway (and the data: URIs of the CSS): ReDoc 2.5 always renders its
# "API docs by Redocly" attribution with a logo from cdn.redoc.ly, a request to a third party on
# every visit (and a failed one offline); the browser drops it before it leaves.
_CSP = "img-src 'self' data:"

_ASSETS_MISSING = (
    "The documentation assets ({missing}) are not installed.\n"
    "Run `make install` (or `python tools/docs_assets.py install`) and reload this page.\n"
    "The OpenAPI document itself is available at {spec}.\n"
)


def _root(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


def _js_string(text: str) -> str:
    """A JavaScript string literal that is safe inside a <script> element."""
    return json.dumps(text).replace("</", "<\\/")


class DocsPages:
    """``/docs``, ``/redoc`` and ``/docs/assets/{name}``, served from ``assets.VENDOR_DIR``."""

    def __init__(self, title: str, vendor_dir: Path | None = None) -> None:
        self.title = title
        self.vendor_dir = vendor_dir if vendor_dir is not None else assets.VENDOR_DIR

    def _missing(self, names: Sequence[str]) -> list[str]:
        return [name for name in names if not (self.vendor_dir / name).is_file()]

    def _page(self, request: Request, template: str, needs: Sequence[str]) -> Response:
        root = _root(request)
        missing = self._missing(needs)
        if missing:
            text = _ASSETS_MISSING.format(missing=", ".join(missing), spec=f"{root}/openapi.json")
            return PlainTextResponse(text, status_code=503, headers={"Cache-Control": "no-store"})
        page = template.format(
            title=html.escape(self.title),
            assets=html.escape(f"{root}/docs/assets"),
            v=html.escape(f"?v={assets.installed_version(self.vendor_dir)}"),
            spec_url=_js_string(f"{root}/openapi.json"),
            plugin=_RESOLVE_PLUGIN.strip(),
        )
        return HTMLResponse(page, headers={"Cache-Control": "no-cache", "Content-Security-Policy": _CSP})

    async def swagger(self, request: Request) -> Response:
        return self._page(request, _SWAGGER_PAGE, assets.SWAGGER_FILES)

    async def redoc(self, request: Request) -> Response:
        return self._page(request, _REDOC_PAGE, assets.REDOC_FILES)

    async def asset(self, request: Request) -> Response:
        name = str(request.path_params["name"])
        media_type = assets.ASSETS.get(name)
        path = self.vendor_dir / name
        if media_type is None:
            return PlainTextResponse("no such asset\n", status_code=404)
        if not path.is_file():
            return PlainTextResponse(
                f"{name} is not installed: run `make install`\n", status_code=404
            )
        return FileResponse(
            path, media_type=media_type, headers={"Cache-Control": "public, max-age=86400"}
        )
