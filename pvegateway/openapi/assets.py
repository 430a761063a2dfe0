"""The Swagger UI and ReDoc files the docs pages serve: where they are and what each one is.

They are installed (pinned, integrity-checked) by ``make install`` through ``tools/docs_assets.py``, which
writes ``MANIFEST.json`` beside them; the runtime only reads what was installed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

VENDOR_DIR = Path(__file__).resolve().parent.parent / "static" / "vendor"
MANIFEST = "MANIFEST.json"

# What the gateway serves under /docs/assets/, with its Content-Type.
ASSETS: Mapping[str, str] = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui-standalone-preset.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon-16x16.png": "image/png",
    "favicon-32x32.png": "image/png",
    "redoc.standalone.js": "text/javascript",
}
SWAGGER_FILES: Sequence[str] = ("swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-ui.css")
REDOC_FILES: Sequence[str] = ("redoc.standalone.js",)


def installed_version(vendor_dir: Path) -> str:
    """A cache buster for the asset URLs: the installed packages' versions, from the manifest."""
    try:
        manifest = json.loads((vendor_dir / MANIFEST).read_text("utf-8"))
        return "-".join(str(package["version"]) for package in manifest["packages"])
    except (OSError, ValueError, KeyError, TypeError):
        return "0"
