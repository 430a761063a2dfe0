"""``GET /nodes/{node}/tasks/{upid}/log?download=1``: the task's log file, streamed raw (``download_allowed``).

pve-manager ``API2/Tasks.pm`` returns ``{download => {fh, stream => 1, ...}}`` and pve-http-server sends it
as it is read: ``text/plain``, gzip-compressed by the handler itself when the file is over 1 KiB (whatever
the client's ``Accept-Encoding``), as an attachment named after node, task type and start time, with no
``Content-Length``.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import AsyncIterator
from email.utils import formatdate

from ...base import Streamed
from ..state import Task

CHUNK = 64 * 1024
_GZIP_OVER = 1024  # "a practical cutoff for the size distribution of our log files"


def file_text(task: Task) -> bytes:
    """The log file as the worker wrote it: one line each, ``TASK OK``/``TASK ERROR: ...`` last once stopped."""
    return "".join(f"{line}\n" for line in task.log).encode()


def download_name(task: Task) -> str:
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(task.starttime))
    return f"task-{task.node}-{task.type}-{started}.log"


async def _plain(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), CHUNK):
        yield data[start:start + CHUNK]


async def _gzipped(data: bytes) -> AsyncIterator[bytes]:
    packer = zlib.compressobj(wbits=16 + zlib.MAX_WBITS)  # the gzip format, as /usr/bin/gzip -c writes it
    for start in range(0, len(data), CHUNK):
        piece = packer.compress(data[start:start + CHUNK])
        if piece:
            yield piece
    yield packer.flush()


def download(task: Task) -> Streamed:
    data = file_text(task)
    compressed = len(data) > _GZIP_OVER
    date = formatdate(usegmt=True).encode()
    headers = [(b"content-type", b"text/plain")]
    if compressed:
        headers.append((b"content-encoding", b"gzip"))
    headers += [
        (b"content-disposition", f'attachment; filename="{download_name(task)}"'.encode()),
        (b"expires", date),
        (b"cache-control", b"max-age=0"),
        (b"pragma", b"no-cache"),
        (b"server", b"pve-api-daemon/3.0"),
    ]
    return Streamed(200, "OK", headers, _gzipped(data) if compressed else _plain(data))
