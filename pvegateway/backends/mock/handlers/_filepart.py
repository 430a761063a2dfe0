"""The uploaded file of a ``multipart/form-data`` body, received as a stream: counted and hashed, never kept.

What pve-http-server's ``file_upload_multipart`` does while it writes ``/var/tmp/pveupload-*``: the file's
bytes run up to the delimiter that follows the part (``CRLF--boundary``), and whatever comes after it
(the closing ``--`` and an epilogue) is read and dropped. The delimiter may straddle two chunks, so the
last ``len(delimiter) - 1`` bytes of a chunk are held back until the next one shows they are not its start.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from ....errors import PVEError
from ....http.multipart import boundary_of
from ...base import Upload

# pve-http-server src/PVE/APIServer/AnyEvent.pm:1370 dies without a newline, so Perl names the place, and
# :1374 answers it as a 500 (the status line keeps the text's first line)
UPLOAD_FAILED = "upload failed at /usr/share/perl5/PVE/APIServer/AnyEvent.pm line 1370.\n"


@dataclass(frozen=True, slots=True)
class Received:
    """What the temporary file would hold: its size and, when one was asked for, its hex digest."""

    size: int
    digest: str | None


async def receive(upload: Upload, algorithm: str | None = None) -> Received:
    """Read the upload to its end; PVE's 500 ``upload failed at ...`` when the body stops inside the file."""
    boundary = boundary_of(upload.content_type)
    if boundary is None:  # the gateway refuses such a body before any handler runs
        raise PVEError(501, "upload failed", plain=True)
    delimiter = b"\r\n--" + boundary
    keep = len(delimiter) - 1
    hasher = hashlib.new(algorithm, usedforsecurity=False) if algorithm else None
    size = 0
    held = b""
    found = False
    async for chunk in upload.rest:
        if found:
            continue  # the closing delimiter and epilogue: read so the connection stays in step
        data = held + chunk if held else chunk
        at = data.find(delimiter)
        if at >= 0:
            found = True
            end = at
        else:
            end = max(len(data) - keep, 0)
        if end:
            view = memoryview(data)[:end]
            size += end
            if hasher is not None:
                hasher.update(view)
        held = b"" if found else data[end:]
    if not found:
        raise PVEError(500, UPLOAD_FAILED, plain=True)
    return Received(size, hasher.hexdigest() if hasher is not None else None)
