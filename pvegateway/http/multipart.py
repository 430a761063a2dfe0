"""The form fields of a ``multipart/form-data`` upload, read up to its file part and no further.

PVE streams uploads to disk (pve-http-server ``file_upload_multipart``), so an ISO of several GiB never
sits in memory. The gateway does the same: it reads the small fields that come before the file part
(``content``, ``checksum``, ...), which are validated like any parameters, and hands the backend the
bytes read so far plus the rest of the body as a stream.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any

from ..backends.base import Upload
from ..errors import ClientGone, PVEError

Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]

_BOUNDARY = re.compile(r';\s*boundary=(?:"([^"]+)"|([^;\s]+))', re.IGNORECASE)
_NAME = re.compile(r'(?:^|;)\s*name="([^"]*)"', re.IGNORECASE)
_FILENAME = re.compile(r'(?:^|;)\s*filename="([^"]*)"', re.IGNORECASE)


def boundary_of(content_type: str) -> bytes | None:
    match = _BOUNDARY.search(content_type)
    if match is None:
        return None
    return (match.group(1) or match.group(2)).encode("latin-1")


async def _chunks(receive: Receive) -> AsyncIterator[bytes]:
    """The body's pieces as they arrive; ``ClientGone`` when the client leaves before its end, so a cut
    upload fails wherever it is read (a proxied one aborts its connection to the node)."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk: bytes = message.get("body", b"")
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return


async def _rest(leftover: bytes, source: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    if leftover:
        yield leftover
    async for chunk in source:
        yield chunk


def _disposition(headers: bytes) -> tuple[str | None, str | None]:
    for line in headers.decode("utf-8", "replace").split("\r\n"):
        key, _, value = line.partition(":")
        if key.strip().lower() == "content-disposition":
            name = _NAME.search(value)
            filename = _FILENAME.search(value)
            return (name.group(1) if name else None, filename.group(1) if filename else None)
    return None, None


async def read_fields(
    content_type: str, length: int | None, receive: Receive, *, limit: int
) -> tuple[dict[str, Any], Upload]:
    """The fields before the first file part (the file part's field gets the file's name, as PVE
    sets it), and the upload positioned at the start of the file's bytes."""
    boundary = boundary_of(content_type)
    if boundary is None:
        raise PVEError(506, f"upload 'Content-Type '{content_type}' not implemented", plain=True)
    delimiter = b"--" + boundary
    source = _chunks(receive)
    buffer = b""
    pos = 0  # start of the part not parsed yet (just after a delimiter line)
    fields: dict[str, Any] = {}

    async def more() -> bool:
        nonlocal buffer
        if len(buffer) > limit:
            raise PVEError(501, "for data too large", plain=True)
        chunk = await anext(source, None)
        if chunk is None:
            return False
        buffer += chunk
        return True

    while (start := buffer.find(delimiter + b"\r\n")) < 0:
        if not await more():
            return fields, Upload(content_type, length, buffer, _rest(b"", source))
    pos = start + len(delimiter) + 2
    while True:
        while (end := buffer.find(b"\r\n\r\n", pos)) < 0:
            if not await more():
                return fields, Upload(content_type, length, buffer, _rest(b"", source))
        name, filename = _disposition(buffer[pos:end])
        body_start = end + 4
        if filename is not None:
            if name:
                fields[name] = filename
            return fields, Upload(content_type, length, buffer[:body_start], _rest(buffer[body_start:], source))
        while (stop := buffer.find(b"\r\n" + delimiter, body_start)) < 0:
            if not await more():
                return fields, Upload(content_type, length, buffer, _rest(b"", source))
        if name:
            fields[name] = buffer[body_start:stop].decode("utf-8", "replace")
        pos = stop + 2 + len(delimiter)
        while len(buffer) < pos + 2:
            if not await more():
                return fields, Upload(content_type, length, buffer, _rest(b"", source))
        if buffer[pos:pos + 2] == b"--":  # the closing delimiter: no file part
            return fields, Upload(content_type, length, buffer, _rest(b"", source))
        pos += 2  # CRLF after the delimiter
