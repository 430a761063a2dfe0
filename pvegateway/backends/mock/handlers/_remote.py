"""What the mock finds at a URL. It makes no network access: every http(s) URL answers as a file named
after the URL's last path segment, of ``SIZE`` bytes, with the MIME type its extension suggests, so that
``query-url-metadata`` and the volume a ``download-url`` leaves agree.
"""

from __future__ import annotations

import re
from typing import Any

SIZE = 512 * 1024**2
_NAME = re.compile(r"^[^?]+/([^?/]*)(?:\?.*)?$")  # pve-manager PVE/API2/Nodes.pm query_url_metadata
# by extension, longest first; the host's mime.types would make answers differ from machine to machine
_TYPES = ((".tar.zst", "application/zstd"), (".tar.gz", "application/gzip"), (".tar.xz", "application/x-xz"),
          (".tar.bz2", "application/x-bzip2"), (".iso", "application/x-iso9660-image"), (".ova", "application/x-tar"),
          (".qcow2", "application/octet-stream"), (".img", "application/octet-stream"))


def filename(url: str) -> str | None:
    match = _NAME.match(url)
    return match.group(1) or None if match else None


def metadata(url: str) -> dict[str, Any]:
    """Nodes.pm: ``filename`` from the URL (no Content-Disposition), ``size``, ``mimetype``."""
    out: dict[str, Any] = {"size": SIZE}
    name = filename(url)
    if name:
        out["filename"] = name
    lowered = (name or "").lower()
    out["mimetype"] = next((t for ext, t in _TYPES if lowered.endswith(ext)), "application/octet-stream")
    return out
