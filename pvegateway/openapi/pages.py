"""``/docs`` (Swagger UI) and ``/redoc``, served with locally installed assets (no CDN)."""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, Response

from .. import docs_assets

if TYPE_CHECKING:
    pass

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
window.ui = SwaggerUIBundle({{
  url: {spec_url},
  dom_id: "#swagger-ui",
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  plugins: [SwaggerUIBundle.plugins.DownloadUrl],
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

_ASSETS_MISSING = (
    "The documentation assets ({missing}) are not installed.\n"
    "Run `make install` (or `python -m pvegateway.docs_assets install`) and reload this page.\n"
    "The OpenAPI document itself is available at {spec}.\n"
)


def _root(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


def _js_string(text: str) -> str:
    """A JavaScript string literal that is safe inside a <script> element."""
    return json.dumps(text).replace("</", "<\\/")


class DocsPages:
    """``/docs``, ``/redoc`` and ``/docs/assets/{name}``, served from ``docs_assets.VENDOR_DIR``."""

    def __init__(self, title: str, vendor_dir: Path | None = None) -> None:
        self.title = title
        self.vendor_dir = vendor_dir if vendor_dir is not None else docs_assets.VENDOR_DIR

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
            v=html.escape(f"?v={docs_assets.ASSETS_VERSION}"),
            spec_url=_js_string(f"{root}/openapi.json"),
        )
        return HTMLResponse(page, headers={"Cache-Control": "no-cache"})

    async def swagger(self, request: Request) -> Response:
        return self._page(request, _SWAGGER_PAGE, docs_assets.SWAGGER_FILES)

    async def redoc(self, request: Request) -> Response:
        return self._page(request, _REDOC_PAGE, docs_assets.REDOC_FILES)

    async def asset(self, request: Request) -> Response:
        name = str(request.path_params["name"])
        media_type = docs_assets.ASSETS.get(name)
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
