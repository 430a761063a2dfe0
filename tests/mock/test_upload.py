"""File uploads and task log downloads against the mock over real TLS sockets, also through the proxy.

The upload is PVE's ``POST /nodes/{node}/storage/{storage}/upload`` (multipart, file last), answered with
an ``imgcopy`` task; the download is ``GET .../tasks/{upid}/log?download=1``, streamed as ``text/plain``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import socket
import ssl
import time
import tracemalloc
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from proxmoxer.tools import Tasks

from pvegateway import statedir
from pvegateway.app import create_app
from pvegateway.backends.base import Upload
from pvegateway.backends.mock.backend import MockBackend
from pvegateway.backends.mock.handlers import _filepart
from pvegateway.errors import PVEError
from pvegateway.testing import PVEMock, running_mock
from tests.live import live_server

MiB = 1024 * 1024
UPLOAD = "/api2/json/nodes/pve1/storage/{storage}/upload"
CONTENT = "/api2/json/nodes/pve1/storage/local/content"
# a file that holds what a careless parser would take for the end of its part
TRICKY = b"\r\n--\r\n-" * 1000


def pattern(size: int) -> bytes:
    return (bytes(range(256)) * (size // 256 + 1))[:size]


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    return statedir.certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def pve(certificate: tuple[Path, Path, str]) -> Iterator[PVEMock]:
    with running_mock(tls=True, certificate=certificate) as mock:
        yield mock


@dataclass
class Client:
    """An aiohttp session logged in as root@pam at ``base`` (the mock itself, or the gateway before it)."""

    session: aiohttp.ClientSession
    base: str
    headers: dict[str, str]

    async def json(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        async with self.session.request(method, self.base + path, headers=self.headers, **kwargs) as resp:
            return resp.status, await resp.json()

    async def data(self, method: str, path: str, **kwargs: Any) -> Any:
        status, body = await self.json(method, path, **kwargs)
        assert status == 200, body
        return body["data"]

    async def volumes(self) -> dict[str, dict[str, Any]]:
        return {v["volid"]: v for v in await self.data("GET", CONTENT)}

    async def task(self, upid: str) -> dict[str, Any]:
        status: dict[str, Any] = await self.data("GET", f"/api2/json/nodes/pve1/tasks/{upid}/status")
        return status

    async def log(self, upid: str) -> list[str]:
        lines = await self.data("GET", f"/api2/json/nodes/pve1/tasks/{upid}/log", params={"limit": "0"})
        return [line["t"] for line in lines]

    async def upload(self, payload: bytes, filename: str, storage: str = "local",
                     **fields: str) -> tuple[int, Any]:
        form = aiohttp.FormData()
        for key, value in {"content": "iso", **fields}.items():
            form.add_field(key, value)
        # a file object: aiohttp streams it in chunks (raw bytes over 1 MiB it refuses with a warning)
        form.add_field("filename", io.BytesIO(payload), filename=filename, content_type="application/octet-stream")
        return await self.json("POST", UPLOAD.format(storage=storage), data=form)


@contextlib.asynccontextmanager
async def client(base: str, pve: PVEMock) -> AsyncIterator[Client]:
    assert pve.certificate is not None
    tls = ssl.create_default_context(cafile=pve.certificate)
    sockets: list[socket.socket] = []

    def opened(info: tuple[Any, ...]) -> socket.socket:
        sock = socket.socket(info[0], info[1], info[2])
        sockets.append(sock)
        return sock

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=tls, socket_factory=opened)) as session:
        async with session.post(base + "/api2/json/access/ticket",
                                data={"username": pve.user, "password": pve.password}) as resp:
            assert resp.status == 200
            login = (await resp.json())["data"]
        headers = {"Cookie": f"PVEAuthCookie={login['ticket']}", "CSRFPreventionToken": login["CSRFPreventionToken"]}
        yield Client(session, base, headers)
    # A connection the server closed after an error answer (PVE closes on every status >= 400) is let
    # go by aiohttp while its TLS close is still under way: let it finish on this loop, before the test's
    # loop is closed under it (a socket left to the garbage collector is a ResourceWarning later on).
    deadline = time.monotonic() + 5
    while any(sock.fileno() != -1 for sock in sockets) and time.monotonic() < deadline:
        await asyncio.sleep(0.001)  # a poll of the condition, bounded: the close needs the peer's answer


# ---- the file's end, wherever the chunks split it ---------------------------------------------------


async def _chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start:start + size]


@pytest.mark.parametrize("size", [1, 2, 7, 13, 30, 31, 32, 33, 64, 4096])
async def test_the_file_ends_at_its_delimiter_across_any_chunk_border(size: int) -> None:
    boundary = b"0123456789abcdef"
    content = TRICKY + b"\r\n--0123456789abcde" + pattern(300)  # the boundary, one byte short
    body = content + b"\r\n--" + boundary + b"--\r\nepilogue"
    upload = Upload(f"multipart/form-data; boundary={boundary.decode()}", None, b"", _chunks(body, size))
    received = await _filepart.receive(upload, "sha256")
    assert received.size == len(content)
    assert received.digest == hashlib.sha256(content).hexdigest()


async def test_a_body_that_stops_inside_the_file_is_an_upload_failure() -> None:
    upload = Upload("multipart/form-data; boundary=xyz", None, b"", _chunks(pattern(1000) + b"\r\n--xy", 64))
    with pytest.raises(PVEError) as failed:
        await _filepart.receive(upload)
    # pve-http-server src/PVE/APIServer/AnyEvent.pm:1370 (no newline: Perl appends the place), :1374
    assert (failed.value.status, failed.value.message) == (
        500, "upload failed at /usr/share/perl5/PVE/APIServer/AnyEvent.pm line 1370.\n")


# ---- uploads with aiohttp ---------------------------------------------------------------------------


async def test_a_20_mib_iso_lands_with_its_size_and_is_listed(pve: PVEMock) -> None:
    payload = TRICKY + pattern(20 * MiB - len(TRICKY))
    async with client(pve.url, pve) as api:
        status, answer = await api.upload(payload, "big.iso", **{
            "checksum-algorithm": "sha256", "checksum": hashlib.sha256(payload).hexdigest().upper()})
        assert status == 200, answer
        upid = answer["data"]
        task = Tasks.decode_upid(upid)
        assert (task["node"], task["type"], task["id"], task["user"]) == ("pve1", "imgcopy", "", "root@pam")
        assert (await api.task(upid))["exitstatus"] == "OK"
        log = await api.log(upid)
        assert log[0].startswith("starting file import from: /var/tmp/pveupload-")
        assert log[1:] == [
            "calculating checksum...OK, checksum verified",
            "target node: pve1",
            "target file: /var/lib/vz/template/iso/big.iso",
            f"file size is: {20 * MiB}",
            f"command: cp -- {log[0].rsplit(' ', 1)[1]} /var/lib/vz/template/iso/big.iso",
            "finished file import successfully",
            "TASK OK",
        ]
        volume = (await api.volumes())["local:iso/big.iso"]
        assert (volume["content"], volume["format"], volume["size"]) == ("iso", "iso", 20 * MiB)
        info = await api.data("GET", CONTENT + "/local:iso/big.iso")
        assert (info["path"], info["size"]) == ("/var/lib/vz/template/iso/big.iso", 20 * MiB)


async def test_the_mock_never_holds_the_whole_file(pve: PVEMock, tmp_path: Path) -> None:
    """Client and server share this process: what both allocate during a 20 MiB upload stays far below it."""
    path = tmp_path / "streamed.iso"
    path.write_bytes(pattern(20 * MiB))
    async with client(pve.url, pve) as api:
        form = aiohttp.FormData()
        form.add_field("content", "iso")
        tracemalloc.start()
        try:
            with path.open("rb") as file:  # aiohttp reads it chunk by chunk
                form.add_field("filename", file, filename=path.name)
                status, answer = await api.json("POST", UPLOAD.format(storage="local"), data=form)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert status == 200, answer
        assert (await api.volumes())["local:iso/streamed.iso"]["size"] == 20 * MiB
        assert peak < 8 * MiB, f"peak {peak / MiB:.1f} MiB while uploading"


async def test_a_template_upload_gets_the_template_format(pve: PVEMock) -> None:
    async with client(pve.url, pve) as api:
        status, answer = await api.upload(pattern(5000), "alpine-3.22.tar.xz", content="vztmpl")
        assert status == 200, answer
        volume = (await api.volumes())["local:vztmpl/alpine-3.22.tar.xz"]
        assert (volume["content"], volume["format"], volume["size"]) == ("vztmpl", "txz", 5000)


async def test_a_checksum_mismatch_fails_the_task_and_adds_nothing(pve: PVEMock) -> None:
    payload = pattern(MiB)
    async with client(pve.url, pve) as api:
        before = await api.volumes()
        status, answer = await api.upload(payload, "bad.iso", **{"checksum-algorithm": "md5", "checksum": "0" * 32})
        assert status == 200, answer  # PVE checks the sum in the worker: the call itself succeeds
        got = hashlib.md5(payload, usedforsecurity=False).hexdigest()
        message = f"checksum mismatch: got '{got}' != expect '{'0' * 32}'"
        task = await api.task(answer["data"])
        assert (task["status"], task["exitstatus"]) == ("stopped", message)
        assert (await api.log(answer["data"]))[-2:] == ["calculating checksum...", f"TASK ERROR: {message}"]
        assert await api.volumes() == before


@pytest.mark.parametrize(("storage", "fields", "filename", "status", "failure"), [
    ("local", {"content": "iso"}, "debian.img.txt", 400, {"filename": "wrong file extension"}),
    ("local", {"content": "vztmpl"}, "ct.tar", 400, {"filename": "wrong file extension"}),
    ("local", {"content": "import"}, "disk.vhdx", 400, {"filename": "invalid filename or wrong extension"}),
    ("local", {"content": "import"}, "disk.qcow2", 500, "storage 'local' does not support 'import' content\n"),
    ("local-lvm", {"content": "iso"}, "x.iso", 500, "can't upload to storage type 'lvmthin'\n"),
    ("nowhere", {"content": "iso"}, "x.iso", 500, "storage 'nowhere' does not exist\n"),
    ("local", {"content": "images"}, "x.raw", 400,
     {"content": "value 'images' does not have a value in the enumeration 'iso, vztmpl, import'"}),
])
async def test_a_refused_upload_is_pves_error_and_changes_nothing(
    pve: PVEMock, storage: str, fields: dict[str, str], filename: str, status: int, failure: Any,
) -> None:
    async with client(pve.url, pve) as api:
        before = await api.volumes()
        tasks_before = await api.data("GET", "/api2/json/nodes/pve1/tasks")
        got, answer = await api.upload(pattern(100_000), filename, storage, **fields)
        assert got == status, answer
        if isinstance(failure, dict):
            assert answer["errors"] == failure
        else:
            assert answer["message"] == failure
        assert await api.volumes() == before
        assert await api.data("GET", "/api2/json/nodes/pve1/tasks") == tasks_before


async def test_a_body_cut_short_is_refused_and_adds_nothing(pve: PVEMock) -> None:
    """A body whose file never ends: PVE's 500 ``upload failed at ...`` (pve-http-server
    src/PVE/APIServer/AnyEvent.pm:1366-1374) once all of it is read."""
    async with client(pve.url, pve) as api:
        before = await api.volumes()
        head = (b"--b0undary\r\nContent-Disposition: form-data; name=\"content\"\r\n\r\niso\r\n"
                b"--b0undary\r\nContent-Disposition: form-data; name=\"filename\"; filename=\"cut.iso\"\r\n"
                b"Content-Type: application/octet-stream\r\n\r\n")
        body = head + pattern(50_000)  # no closing delimiter: the file never ends
        headers = {**api.headers, "Content-Type": "multipart/form-data; boundary=b0undary"}
        async with api.session.post(pve.url + UPLOAD.format(storage="local"), data=body, headers=headers) as resp:
            assert (resp.status, resp.reason) == (
                500, "upload failed at /usr/share/perl5/PVE/APIServer/AnyEvent.pm line 1370.")
        assert await api.volumes() == before


# ---- proxmoxer --------------------------------------------------------------------------------------


def test_proxmoxer_uploads_a_file_it_opened(pve: PVEMock, tmp_path: Path) -> None:
    """proxmoxer sends an open file as a multipart part named like the parameter (``filename``)."""
    path = tmp_path / "netinst (copy).iso"
    path.write_bytes(pattern(3 * MiB))
    prox = pve.proxmoxer()
    try:
        with path.open("rb") as file:
            upid = prox.nodes("pve1").storage("local").upload.post(content="iso", filename=file)
        status = Tasks.blocking_status(prox, upid, timeout=10, polling_interval=0.01)
        assert status is not None and status["exitstatus"] == "OK"
        listed = {v["volid"]: v for v in prox.nodes("pve1").storage("local").content.get(content="iso")}
        assert listed["local:iso/netinst__copy_.iso"]["size"] == 3 * MiB  # the name normalized like PVE
        log = Tasks.decode_log(prox.nodes("pve1").tasks(upid).log.get())
        assert "target file: /var/lib/vz/template/iso/netinst__copy_.iso" in log
    finally:
        prox._store["session"].close()  # the server's shutdown waits for TLS peers to hang up


# ---- task log download ------------------------------------------------------------------------------


async def test_a_task_log_downloads_as_a_plain_text_attachment(pve: PVEMock) -> None:
    async with client(pve.url, pve) as api:
        _, answer = await api.upload(pattern(1000), "small.iso")
        upid = answer["data"]
        lines = await api.log(upid)
        url = f"{pve.url}/api2/json/nodes/pve1/tasks/{upid}/log"
        async with api.session.get(url, params={"download": "1"}, headers=api.headers) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"] == "text/plain"
            assert "Content-Encoding" not in resp.headers  # small logs go as they are
            stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(Tasks.decode_upid(upid)["starttime"]))
            assert resp.headers["Content-Disposition"] == f'attachment; filename="task-pve1-imgcopy-{stamp}.log"'
            assert await resp.text() == "".join(f"{line}\n" for line in lines)


async def test_a_long_task_log_downloads_gzip_encoded(pve: PVEMock) -> None:
    async with client(pve.url, pve) as api:
        _, answer = await api.upload(pattern(1000), "chatty.iso")
        upid = answer["data"]
        extra = [f"progress {i}%" for i in range(200)]
        pve.control.call(lambda backend: _insert(backend, upid, extra))
        lines = await api.log(upid)
        assert len("".join(f"{line}\n" for line in lines)) > 1024
        url = f"{pve.url}/api2/json/nodes/pve1/tasks/{upid}/log"
        async with api.session.get(url, params={"download": "1"}, headers=api.headers) as resp:
            assert resp.headers["Content-Encoding"] == "gzip"  # PVE compresses over 1 KiB, asked or not
            assert await resp.text() == "".join(f"{line}\n" for line in lines)


def _insert(backend: MockBackend, upid: str, extra: list[str]) -> None:
    task = backend.mock.cluster.find_task(upid)
    assert task is not None
    task.log[-1:-1] = extra  # a chatty worker: its lines come before the final TASK OK


async def test_download_refuses_start_and_limit_like_pve(pve: PVEMock) -> None:
    async with client(pve.url, pve) as api:
        _, answer = await api.upload(pattern(10), "tiny.iso")
        status, body = await api.json("GET", f"/api2/json/nodes/pve1/tasks/{answer['data']}/log",
                                      params={"download": "1", "limit": "5"})
        assert status == 500
        assert body["message"] == "'download' cannot be used together with 'start' or 'limit' parameters\n"


# ---- through the proxy ------------------------------------------------------------------------------


async def test_an_upload_and_its_log_pass_through_the_proxy(pve: PVEMock) -> None:
    payload = pattern(8 * MiB)
    app = create_app(None, "proxy", send_reason=True, upstreams=[pve.url], fingerprints=[pve.fingerprint])
    with live_server(app) as gateway:
        async with client(gateway, pve) as api:
            status, answer = await api.upload(payload, "via-proxy.iso", **{
                "checksum-algorithm": "sha512", "checksum": hashlib.sha512(payload).hexdigest()})
            assert status == 200, answer
            upid = answer["data"]
            assert (await api.task(upid))["exitstatus"] == "OK"
            assert (await api.volumes())["local:iso/via-proxy.iso"]["size"] == 8 * MiB
            lines = await api.log(upid)
            async with api.session.get(f"{gateway}/api2/json/nodes/pve1/tasks/{upid}/log",
                                       params={"download": "1"}, headers=api.headers) as resp:
                assert resp.status == 200
                assert resp.headers["Content-Type"] == "text/plain"
                assert resp.headers["Content-Disposition"].startswith('attachment; filename="task-pve1-imgcopy-')
                assert await resp.text() == "".join(f"{line}\n" for line in lines)
