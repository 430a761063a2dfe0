"""Large downloads and uploads stream through the proxy: the gateway (its own process, so its memory
is its own) relays 128 MiB each way while its peak RSS grows by a few MiB, not by the file."""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
from starlette.types import Receive, Scope, Send

from pvegateway.testing_server import ThreadedServer

SIZE = 128 * 1024 * 1024
CHUNK = 1024 * 1024
BOUND = 32 * 1024 * 1024  # the gateway may grow this much; the file is four times that
PATTERN = bytes(range(256)) * (CHUNK // 256)
VERSION_JSON = b'{"data":{"release":"9.2","notes":"' + b"x" * 2048 + b'"}}'
UPID = "UPID:pve1:00001234:00005678:6745A000:download:100:root@pam:"


class FileNode:
    """A PVE node reduced to two file operations: a task log download and a storage upload."""

    def __init__(self) -> None:
        self.uploaded = hashlib.sha256()
        self.upload_size = 0
        self.upload_headers: dict[str, str] = {}

    async def compressed(self, scope: Scope, send: Send) -> None:
        """PVE gzips answers over 1 KiB when the client accepts it (AnyEvent.pm 347-357)."""
        accepts = dict(scope["headers"]).get(b"accept-encoding", b"")
        body = VERSION_JSON
        headers = [(b"content-type", b"application/json;charset=UTF-8")]
        if b"gzip" in accepts:
            body = gzip.compress(body, mtime=0)
            headers.append((b"content-encoding", b"gzip"))
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] == "/api2/json/version":
            await self.compressed(scope, send)
            return
        if scope["method"] == "GET":
            await send({"type": "http.response.start", "status": 200, "headers": [
                (b"content-type", b"text/plain"), (b"content-length", str(SIZE).encode()),
                (b"content-disposition", b"attachment; filename=\"task.log\"")]})
            for _ in range(SIZE // CHUNK):
                await send({"type": "http.response.body", "body": PATTERN, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
            return
        self.upload_headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        more = True
        while more:
            message = await receive()
            body = message.get("body", b"")
            self.uploaded.update(body)
            self.upload_size += len(body)
            more = message.get("more_body", False)
        answer = b'{"data":"' + UPID.encode() + b'"}'
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", b"application/json;charset=UTF-8"), (b"content-length", str(len(answer)).encode())]})
        await send({"type": "http.response.body", "body": answer})


@pytest.fixture
def file_node() -> Iterator[tuple[str, FileNode]]:
    app = FileNode()
    server = ThreadedServer(app)
    server.start()
    try:
        yield f"http://127.0.0.1:{server.port}", app
    finally:
        server.close()


@pytest.fixture
def gateway(file_node: tuple[str, FileNode], tmp_path: Path) -> Iterator[tuple[str, int]]:
    """``pvegateway serve --mode proxy`` as a user runs it, on a port the system picks."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "pvegateway.cli", "serve", "--mode", "proxy", "--upstream", file_node[0],
         "--http", "--port", "0", "--state-dir", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        found = re.search(r"listening on (http://\S+)/api2/json", line)
        assert found, line + (proc.stderr.read() if proc.stderr else "")
        yield found.group(1), proc.pid
    finally:
        proc.terminate()
        proc.communicate(timeout=10)  # waits, and closes the pipes


def peak_rss(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    found = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    assert found
    return int(found.group(1)) * 1024


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as client:
        yield client


async def test_a_large_download_streams_with_bounded_memory(
    gateway: tuple[str, int], session: aiohttp.ClientSession,
) -> None:
    url, pid = gateway
    path = f"/api2/json/nodes/pve1/tasks/{UPID}/log?download=1"
    async with session.get(url + "/api2/json/version") as warm:
        await warm.read()
    before = peak_rss(pid)
    digest = hashlib.sha256()
    received = 0
    async with session.get(url + path, headers={"Authorization": "PVEAPIToken=root@pam!t=x"}) as response:
        assert response.status == 200
        assert response.headers["Content-Disposition"] == 'attachment; filename="task.log"'
        assert response.headers["Content-Length"] == str(SIZE)
        async for chunk in response.content.iter_chunked(CHUNK):
            digest.update(chunk)
            received += len(chunk)
    assert received == SIZE
    expected = hashlib.sha256()
    for _ in range(SIZE // CHUNK):
        expected.update(PATTERN)
    assert digest.digest() == expected.digest()
    assert peak_rss(pid) - before < BOUND


async def test_a_large_upload_streams_with_bounded_memory(
    gateway: tuple[str, int], file_node: tuple[str, FileNode], session: aiohttp.ClientSession,
) -> None:
    url, pid = gateway
    async with session.get(url + "/api2/json/version") as warm:
        await warm.read()
    before = peak_rss(pid)

    async def file_bytes() -> AsyncIterator[bytes]:
        for _ in range(SIZE // CHUNK):
            yield PATTERN

    boundary = "pvegatewayboundary7d1"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"content\"\r\n\r\niso\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"filename\"; filename=\"big.iso\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    async def body() -> AsyncIterator[bytes]:
        yield head
        async for chunk in file_bytes():
            yield chunk
        yield tail

    length = len(head) + SIZE + len(tail)
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}", "Content-Length": str(length),
               "Authorization": "PVEAPIToken=root@pam!t=x"}
    async with session.post(url + "/api2/json/nodes/pve1/storage/local/upload", data=body(),
                            headers=headers) as response:
        assert response.status == 200, await response.text()
        assert (await response.json())["data"] == UPID
    node = file_node[1]
    assert node.upload_size == length
    assert node.upload_headers["content-length"] == str(length)
    assert "transfer-encoding" not in node.upload_headers  # PVE refuses chunked bodies
    expected = hashlib.sha256(head)
    for _ in range(SIZE // CHUNK):
        expected.update(PATTERN)
    expected.update(tail)
    assert node.uploaded.digest() == expected.digest()
    assert peak_rss(pid) - before < BOUND


async def test_an_upload_with_bad_fields_is_refused_before_its_file_is_read(
    gateway: tuple[str, int], file_node: tuple[str, FileNode], session: aiohttp.ClientSession,
) -> None:
    url, _ = gateway
    form = aiohttp.FormData()
    form.add_field("content", "pictures")
    form.add_field("filename", b"x" * 1024, filename="big.iso", content_type="application/octet-stream")
    async with session.post(url + "/api2/json/nodes/pve1/storage/local/upload", data=form,
                            headers={"Authorization": "PVEAPIToken=root@pam!t=x"}) as response:
        assert response.status == 400
        errors = (await response.json())["errors"]
    assert set(errors) == {"content"}
    assert file_node[1].upload_size == 0


async def test_a_compressed_answer_passes_compressed(gateway: tuple[str, int]) -> None:
    url, _ = gateway
    async with aiohttp.ClientSession(auto_decompress=False) as raw:
        async with raw.get(url + "/api2/json/version", headers={"Accept-Encoding": "gzip"}) as response:
            assert response.headers["Content-Encoding"] == "gzip"
            assert await response.read() == gzip.compress(VERSION_JSON, mtime=0)
        async with raw.get(url + "/api2/json/version", headers={"Accept-Encoding": "identity"}) as response:
            assert "Content-Encoding" not in response.headers
            assert await response.read() == VERSION_JSON
