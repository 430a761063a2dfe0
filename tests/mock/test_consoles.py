"""Consoles over a real socket: vncproxy/termproxy/vncshell answers, their worker tasks, and the
``vncwebsocket`` sessions a browser opens on them (aiohttp's WebSocket client against uvicorn).

PVE sources: qemu-server src/PVE/API2/Qemu.pm, pve-container src/PVE/API2/LXC.pm, pve-manager
PVE/API2/Nodes.pm, pve-access-control src/PVE/AccessControl.pm, pve-http-server
src/PVE/APIServer/AnyEvent.pm, pve-xtermjs termproxy/src/main.rs.
"""

from __future__ import annotations

import asyncio
import json
import re
import struct
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, modes
from starlette.applications import Starlette
from starlette.routing import Mount

from pvegateway.testing import Control, PVEMock, mock_gateway, running_mock
from tests.live import live_server

API = "/api2/json"
TIMEOUT = 10  # seconds any one message may take: a session that stalls fails the test instead of hanging


@pytest.fixture
def mock() -> Iterator[PVEMock]:
    with running_mock() as running:
        yield running


@dataclass
class Session:
    """A login on a server of the gateway (the API under ``prefix``), over aiohttp."""

    session: aiohttp.ClientSession
    headers: dict[str, str]
    prefix: str = ""

    async def call(self, method: str, path: str, /, **params: Any) -> tuple[int, Any]:
        kwargs: dict[str, Any] = {"params": params} if method in ("GET", "DELETE") else {"data": params}
        async with self.session.request(method, self.prefix + API + path, headers=self.headers, **kwargs) as response:
            body = await response.json(content_type=None) if response.content_length != 0 else None
            return response.status, body

    async def data(self, method: str, path: str, /, **params: Any) -> Any:
        status, body = await self.call(method, path, **params)
        assert status == 200, (method, path, status, body)
        return body["data"]

    async def connect(self, path: str, port: int, ticket: str) -> aiohttp.ClientWebSocketResponse:
        return await self.session.ws_connect(self.prefix + API + path, params={"port": str(port), "vncticket": ticket},
                                             headers=self.headers, protocols=("binary",),
                                             timeout=aiohttp.ClientWSTimeout(ws_close=TIMEOUT))

    async def task(self, upid: str) -> dict[str, Any]:
        status: dict[str, Any] = await self.data("GET", f"/nodes/pve1/tasks/{upid}/status")
        return status


async def log_in(session: aiohttp.ClientSession, password: str = "pvegateway", prefix: str = "") -> Session:
    """root@pam's ticket as cookie, and its CSRF token for writes."""
    async with session.post(prefix + API + "/access/ticket", data={"username": "root@pam", "password": password}) as r:
        login = (await r.json())["data"]
    headers = {"Cookie": f"PVEAuthCookie={login['ticket']}", "CSRFPreventionToken": login["CSRFPreventionToken"]}
    return Session(session, headers, prefix)


@dataclass
class Client(Session):
    """A login on the mock, with the mock's control handle (its clock)."""

    control: Control | None = None

    @property
    def mock(self) -> Control:
        assert self.control is not None
        return self.control


@pytest.fixture
async def pve(mock: PVEMock) -> AsyncIterator[Client]:
    async with aiohttp.ClientSession(mock.url) as session:
        login = await log_in(session, mock.password)
        yield Client(login.session, login.headers, control=mock.control)


async def received(ws: aiohttp.ClientWebSocketResponse) -> bytes:
    message = await ws.receive(timeout=TIMEOUT)
    assert message.type == aiohttp.WSMsgType.BINARY, message  # pveproxy sends binary frames only
    data: bytes = message.data
    return data


PROMPT = b"root@pve1:~# "


async def shown(ws: aiohttp.ClientWebSocketResponse, end: bytes) -> bytes:
    """The terminal's output up to ``end``, however the messages cut it."""
    out = b""
    while not out.endswith(end):
        out += await received(ws)
    return out


async def terminal(pve: Session, base: str = "/nodes/pve1",
                   prompt: bytes = PROMPT) -> tuple[dict[str, Any], aiohttp.ClientWebSocketResponse]:
    """A termproxy console of ``base`` (a node or a guest), connected and past its ticket line."""
    answer = await pve.data("POST", f"{base}/termproxy")
    ws = await pve.connect(f"{base}/vncwebsocket", answer["port"], answer["ticket"])
    await ws.send_bytes(f"{answer['user']}:{answer['ticket']}\n".encode())
    assert await received(ws) == b"OK"  # termproxy main.rs do_main
    assert await received(ws) == prompt
    return answer, ws


async def closed(ws: aiohttp.ClientWebSocketResponse) -> bool:
    message = await ws.receive(timeout=TIMEOUT)
    return message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)


# --- the answers -----------------------------------------------------------------------------------

async def test_qemu_vncproxy_answers_a_password_ticket_port_certificate_and_a_running_task(pve: Client) -> None:
    answer = await pve.data("POST", "/nodes/pve1/qemu/100/vncproxy", websocket=1)
    assert set(answer) == {"user", "ticket", "password", "cert", "port", "upid"}  # Qemu.pm:3140-3150
    assert answer["user"] == "root@pam" and answer["port"] == 5900  # Tools.pm:504-507: 5900 and up
    # Qemu.pm:3025-3029 and Ticket.pm:239-241: 8 characters of '!'..'`', in front of the PVEVNC ticket
    assert re.fullmatch(r"[!-`]{8}", answer["password"])
    assert answer["ticket"].startswith(answer["password"] + ":PVEVNC:")
    assert answer["cert"].startswith("-----BEGIN CERTIFICATE-----")
    assert re.fullmatch(r"UPID:pve1:[0-9A-F]{8}:[0-9A-F]{8}:[0-9A-F]{8}:vncproxy:100:root@pam:", answer["upid"])
    task = await pve.task(answer["upid"])
    assert task["status"] == "running"
    second = await pve.data("POST", "/nodes/pve1/qemu/100/vncproxy", websocket=1)
    assert second["port"] == 5901  # the first still listens


async def test_the_other_consoles_answer_their_own_shapes_and_task_types(pve: Client) -> None:
    term = await pve.data("POST", "/nodes/pve1/qemu/100/termproxy")
    assert set(term) == {"user", "ticket", "port", "upid"}  # Qemu.pm:3265-3270
    assert term["ticket"].startswith("PVEVNC:") and ":vncproxy:100:" in term["upid"]  # Qemu.pm:3261
    lxc = await pve.data("POST", "/nodes/pve1/lxc/200/vncproxy")
    assert set(lxc) == {"user", "ticket", "port", "upid", "cert"}  # no password without websocket (LXC.pm:1025-1029)
    assert ":vncproxy:200:" in lxc["upid"]
    lxc_term = await pve.data("POST", "/nodes/pve1/lxc/200/termproxy")
    assert ":vncproxy:200:" in lxc_term["upid"]  # LXC.pm:1190
    shell = await pve.data("POST", "/nodes/pve1/vncshell", websocket=1)
    assert "password" in shell and ":vncshell::root@pam:" in shell["upid"]  # Nodes.pm:1349
    node_term = await pve.data("POST", "/nodes/pve1/termproxy")
    assert set(node_term) == {"user", "ticket", "port", "upid"} and ":vncshell::" in node_term["upid"]  # Nodes.pm:1446
    other = await pve.data("POST", "/nodes/pve2/termproxy")  # opened on the node asked, through SSH
    ports = [term["port"], lxc["port"], lxc_term["port"], shell["port"], node_term["port"], other["port"]]
    assert ports == [5900, 5901, 5902, 5903, 5904, 5905]
    for answer in (term, lxc, lxc_term, shell, node_term):
        assert (await pve.task(answer["upid"]))["status"] == "running"


async def test_a_shell_command_other_than_login_is_for_root_only(pve: Client, mock: PVEMock) -> None:
    token = await pve.data("POST", "/access/users/root@pam/token/console", privsep=0)
    pve.headers = {"Authorization": f"PVEAPIToken=root@pam!console={token['value']}"}
    # a token is not root@pam: Nodes.pm:1268-1271
    assert await pve.call("POST", "/nodes/pve1/vncshell", cmd="upgrade") == (
        403, {"data": None, "message": "Permission check failed (user != root@pam)\n"})
    answer = await pve.data("POST", "/nodes/pve1/vncshell")
    assert answer["user"] == "root@pam!console"


async def test_a_console_nobody_connects_to_ends_its_task_like_pve(pve: Client) -> None:
    vnc = await pve.data("POST", "/nodes/pve1/qemu/100/vncproxy", websocket=1)
    term = await pve.data("POST", "/nodes/pve1/termproxy")
    shell = await pve.data("POST", "/nodes/pve1/vncshell", websocket=1)
    pve.mock.advance(11)  # the worker waits 10 s for its client (Qemu.pm:3114-3118, termproxy main.rs)
    assert (await pve.task(vnc["upid"]))["exitstatus"] == "connection timed out"
    assert (await pve.task(term["upid"]))["exitstatus"] == "failed waiting for client: timed out"
    assert (await pve.task(shell["upid"]))["exitstatus"] == "OK"  # Nodes.pm:1326-1345 only logs vncterm's end
    # nothing listens any more: the upgrade gets no session (pveproxy's connect fails, AnyEvent.pm:578-580)
    with pytest.raises(aiohttp.WSServerHandshakeError):
        await pve.connect("/nodes/pve1/qemu/100/vncwebsocket", vnc["port"], vnc["ticket"])
    assert (await pve.data("POST", "/nodes/pve1/termproxy"))["port"] == 5900  # the port is free again


async def test_spice_answers_a_remote_viewer_configuration(pve: Client) -> None:
    pve.mock.call(lambda backend: backend.mock.cluster.guests[100].config.update(vga="qxl"))
    config = await pve.data("POST", "/nodes/pve1/qemu/100/spiceproxy", proxy="10.0.0.5")
    # AccessControl.pm:652-665 remote_viewer_config
    assert set(config) == {"secure-attention", "toggle-fullscreen", "release-cursor", "type", "title", "host",
                           "proxy", "tls-port", "host-subject", "ca", "password", "delete-this-file"}
    assert config["type"] == "spice" and config["title"] == "VM 100 - web01"
    assert config["proxy"] == "http://10.0.0.5:3128" and config["delete-this-file"] == 1
    assert re.fullmatch(rf"pvespiceproxy:[0-9a-f]{{8}}:100:pve1:{config['tls-port']}::[0-9a-f]{{40}}", config["host"])
    assert "\n" not in config["ca"] and config["ca"].startswith("-----BEGIN CERTIFICATE-----\\n")
    assert config["host-subject"] == "OU=PVE Cluster Node,O=Proxmox Virtual Environment,CN=pve1"
    assert (await pve.data("POST", "/nodes/pve1/qemu/100/spiceproxy", proxy="fd00::5"))["proxy"] == "http://[fd00::5]:3128"
    # what the UI downloads for remote-viewer: one key a line, the CA's newlines escaped (AccessControl.pm:648-649)
    async with pve.session.post("/api2/spiceconfig/nodes/pve1/qemu/100/spiceproxy", headers=pve.headers,
                                data={}) as response:
        assert response.content_type == "application/x-virt-viewer"
        lines = (await response.text()).splitlines()
    assert lines[0] == "[virt-viewer]" and "type=spice" in lines and "delete-this-file=1" in lines
    assert any(line.startswith("ca=-----BEGIN CERTIFICATE-----\\n") for line in lines)
    ct = await pve.data("POST", "/nodes/pve1/lxc/200/spiceproxy")
    assert ct["title"] == "CT 200" and ct["proxy"] == "http://pve1:3128"
    shell = await pve.data("POST", "/nodes/pve1/spiceshell")
    assert shell["title"] == "Shell on 'pve1'"
    tasks = await pve.data("GET", "/nodes/pve1/tasks", source="active")
    assert {(t["type"], t["id"]) for t in tasks} >= {("spiceproxy", "200"), ("spiceshell", "")}  # API2Tools.pm:231-235


async def test_spice_of_a_vm_without_it_or_stopped_fails_like_qemu_server(pve: Client) -> None:
    assert await pve.call("POST", "/nodes/pve1/qemu/100/spiceproxy") == (
        500, {"data": None, "message": "no spice port\n"})  # QemuServer.pm:3841-3846: no qxl display
    assert await pve.call("POST", "/nodes/pve2/qemu/101/spiceproxy") == (
        500, {"data": None, "message": "VM 101 not running\n"})  # QemuServer/Monitor.pm:80-81
    await pve.data("POST", "/nodes/pve1/lxc/200/status/stop")
    assert await pve.call("POST", "/nodes/pve1/lxc/200/spiceproxy") == (
        500, {"data": None, "message": "CT 200 not running\n"})  # LXC.pm:1283


# --- termproxy sessions ----------------------------------------------------------------------------

async def test_termproxy_session_authenticates_echoes_resizes_and_ends_its_task(pve: Client) -> None:
    answer, ws = await terminal(pve)
    assert ws.protocol == "binary"  # the subprotocol asked for (AnyEvent.pm:705-715)
    await ws.send_bytes(b"0:5:hello")
    assert await received(ws) == b"hello"
    await ws.send_bytes(b"0:1:\r")
    assert await shown(ws, PROMPT) == b"\r\n-bash: hello: command not found\r\n" + PROMPT
    # the command asking the size and Enter in one message: termproxy's pty starts at 80x20
    await ws.send_bytes(b"0:9:stty size0:1:\r")
    assert await shown(ws, PROMPT) == b"stty size\r\n20 80\r\n" + PROMPT
    await ws.send_bytes(b"2")  # a ping
    await ws.send_bytes(b"1:120:40:")
    await ws.send_bytes(b"0:9:stty size")
    await ws.send_bytes(b"0:1:\r")
    assert await shown(ws, PROMPT) == b"stty size\r\n40 120\r\n" + PROMPT
    assert (await pve.task(answer["upid"]))["status"] == "running"  # while the session lives
    await ws.send_bytes(b"0:5:exit\r")
    assert await received(ws) == b"exit\r\nlogout\r\n"
    assert await closed(ws)
    task = await pve.task(answer["upid"])
    assert (task["status"], task["exitstatus"]) == ("stopped", "OK")


async def test_termproxy_input_is_streamed_and_junk_is_skipped(pve: Client) -> None:
    _, ws = await terminal(pve)
    # a frame announcing a megabyte: what came of it reaches the terminal now (termproxy main.rs)
    await ws.send_bytes(b"0:1048576:abc")
    assert await received(ws) == b"abc"
    await ws.send_bytes(b"\x7f" * 3 + b"x")  # the rest of that frame's data
    assert await shown(ws, b"x") == b"\b \b" * 3 + b"x"
    rest = b"\x7f" + b"." * (1048576 - 7 - 11) + b"\x7f" * 10  # the frame's end; a tty line holds 4095 characters
    for start in range(0, len(rest), 65536):
        await ws.send_bytes(rest[start:start + 65536])
    assert len(await shown(ws, b"\b \b" * 10)) == 3 + 4095 + 30
    # a number that never ends is dropped, and what follows is read again
    await ws.send_bytes(b"0:" + b"9" * 30 + b"0:5:hello")
    assert await shown(ws, b"hello") == b"hello"
    await ws.close()


async def test_termproxy_refuses_a_ticket_line_that_is_not_its_own(pve: Client) -> None:
    first = await pve.data("POST", "/nodes/pve1/termproxy")
    second = await pve.data("POST", "/nodes/pve1/termproxy")
    ws = await pve.connect("/nodes/pve1/vncwebsocket", first["port"], first["ticket"])
    # a genuine ticket, but another console's: the pinned-ticket check (termproxy main.rs)
    await ws.send_bytes(f"root@pam:{second['ticket']}\n".encode())
    assert await closed(ws)  # without "OK"
    task = await pve.task(first["upid"])
    assert (task["status"], task["exitstatus"]) == ("stopped", "authentication request failed")


async def test_a_message_over_pveproxys_frame_limit_ends_the_session(pve: Client) -> None:
    _, ws = await terminal(pve)
    big = 128 * 1024  # AnyEvent.pm:543, 651-653: 'received too large websocket frame', and the end
    await ws.send_bytes(f"0:{big}:".encode() + b"x" * big)
    assert await closed(ws)


async def test_stopping_a_console_task_ends_its_session(pve: Client) -> None:
    answer, ws = await terminal(pve, "/nodes/pve1/lxc/200", b"root@proxy01:~# ")
    await pve.data("DELETE", f"/nodes/pve1/tasks/{answer['upid']}")
    assert await closed(ws)
    assert (await pve.task(answer["upid"]))["status"] == "stopped"


async def test_finishing_every_task_ends_the_console_sessions_too(pve: Client) -> None:
    answer, ws = await terminal(pve)
    pve.mock.finish_tasks()
    assert await closed(ws)
    assert (await pve.task(answer["upid"]))["status"] == "stopped"


async def test_vncticket_endpoint_checks_a_console_ticket(pve: Client) -> None:
    answer = await pve.data("POST", "/nodes/pve1/termproxy")
    check = {"authid": "root@pam", "vncticket": answer["ticket"], "path": "/nodes/pve1", "privs": "Sys.Console",
             "port": answer["port"]}
    assert await pve.call("POST", "/access/vncticket", **check) == (200, {"data": None})
    failure = (401, {"data": None, "message": "authentication failure\n"})  # API2/AccessControl.pm:389-395
    assert await pve.call("POST", "/access/vncticket", **{**check, "port": answer["port"] + 1}) == failure
    assert await pve.call("POST", "/access/vncticket", **{**check, "path": "/nodes/pve2"}) == failure


# --- the upgrade's refusals ------------------------------------------------------------------------

INVALID = {"data": None, "message": "permission denied - invalid PVEVNC ticket\n"}  # Ticket.pm:105-106


async def refused(pve: Client, path: str, port: int, ticket: str) -> tuple[int, Any]:
    with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
        await pve.connect(path, port, ticket)
    status, body = await pve.call("GET", path, port=port, vncticket=ticket)  # the same request without upgrade
    assert caught.value.status == status
    return status, body


async def test_a_wrong_ticket_port_or_path_is_refused_before_the_upgrade(pve: Client) -> None:
    answer = await pve.data("POST", "/nodes/pve1/qemu/100/vncproxy", websocket=1)
    path = "/nodes/pve1/qemu/100/vncwebsocket"
    # without Upgrade, the ticket check is all there is (Qemu.pm:3318-3328)
    assert await pve.call("GET", path, port=answer["port"], vncticket=answer["ticket"]) == (
        200, {"data": {"port": str(answer["port"])}})
    assert await refused(pve, path, answer["port"], answer["ticket"][:-2]) == (401, INVALID)
    assert await refused(pve, path, answer["port"] + 1, answer["ticket"]) == (401, INVALID)  # signed for its port
    assert await refused(pve, "/nodes/pve1/lxc/200/vncwebsocket", answer["port"], answer["ticket"]) == (401, INVALID)
    ws = await pve.connect(path, answer["port"], answer["ticket"])
    await ws.close()


async def test_an_upgrade_to_a_path_that_is_no_websocket_gets_the_plain_answer(pve: Client, mock: PVEMock) -> None:
    # pveproxy upgrades only GETs of paths ending in 'websocket' (AnyEvent.pm:1018); others get their answer
    reader, writer = await asyncio.open_connection(mock.host, mock.port)
    writer.write(f"GET /api2/json/version HTTP/1.1\r\nHost: pve1\r\nCookie: {pve.headers['Cookie']}\r\n"
                 "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n".encode())
    answer = await asyncio.wait_for(reader.read(), TIMEOUT)  # to the end: the server closes after it
    writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    assert json.loads(body) == {"data": await pve.data("GET", "/version")}


async def test_an_expired_ticket_is_refused(pve: Client) -> None:
    answer = await pve.data("POST", "/nodes/pve1/termproxy")
    pve.mock.advance(40)  # AccessControl.pm:553: under 40 seconds old
    assert await refused(pve, "/nodes/pve1/vncwebsocket", answer["port"], answer["ticket"]) == (401, INVALID)


async def test_a_console_takes_one_client(pve: Client) -> None:
    answer = await pve.data("POST", "/nodes/pve1/termproxy")
    ws = await pve.connect("/nodes/pve1/vncwebsocket", answer["port"], answer["ticket"])
    # termproxy accepted its one client and listens no more: a second upgrade has nothing to reach
    with pytest.raises(aiohttp.WSServerHandshakeError):
        await pve.connect("/nodes/pve1/vncwebsocket", answer["port"], answer["ticket"])
    await ws.close()


async def test_the_upgrade_needs_the_console_privilege(pve: Client) -> None:
    token = await pve.data("POST", "/access/users/root@pam/token/console", privsep=1)  # no ACL: no privileges
    answer = await pve.data("POST", "/nodes/pve1/termproxy")
    pve.headers = {"Authorization": f"PVEAPIToken=root@pam!console={token['value']}"}
    assert await refused(pve, "/nodes/pve1/vncwebsocket", answer["port"], answer["ticket"]) == (
        403, {"data": None, "message": "Permission check failed (/nodes/pve1, Sys.Console)\n"})  # Nodes.pm:1465


# --- RFB sessions ----------------------------------------------------------------------------------

def vnc_client_response(password: bytes, challenge: bytes) -> bytes:
    """A VNC client's DES answer, by OpenSSL (TripleDES with one key three times is single DES)."""
    key = bytes(int(f"{b:08b}"[::-1], 2) for b in password[:8].ljust(8, b"\0"))
    encryptor = Cipher(TripleDES(key * 3), modes.ECB()).encryptor()
    return encryptor.update(challenge) + encryptor.finalize()


class RFBClient:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.buffer = b""

    async def read(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self.buffer += await received(self.ws)
        out, self.buffer = self.buffer[:size], self.buffer[size:]
        return out

    async def authenticate(self, password: bytes) -> bytes:
        """RFB 3.8 up to the security result (RFC 6143 7.1-7.2); the result's bytes."""
        assert await self.read(12) == b"RFB 003.008\n"
        await self.ws.send_bytes(b"RFB 003.008\n")
        assert await self.read(2) == b"\x01\x02"  # one security type: VNC authentication
        await self.ws.send_bytes(b"\x02")
        challenge = await self.read(16)
        await self.ws.send_bytes(vnc_client_response(password, challenge))
        return await self.read(4)


async def test_vnc_session_authenticates_with_the_password_and_sends_a_framebuffer(pve: Client) -> None:
    answer = await pve.data("POST", "/nodes/pve1/qemu/100/vncproxy", websocket=1)
    ws = await pve.connect("/nodes/pve1/qemu/100/vncwebsocket", answer["port"], answer["ticket"])
    rfb = RFBClient(ws)
    # noVNC gives the whole ticket as the password: DES keys on its first 8 bytes, the password
    assert await rfb.authenticate(answer["ticket"].encode()) == b"\0\0\0\0"
    await ws.send_bytes(b"\x01")  # ClientInit, shared
    width, height = struct.unpack(">HH", await rfb.read(4))
    pixel_format = await rfb.read(16)
    name_length = struct.unpack(">I", await rfb.read(4))[0]
    assert (width, height, pixel_format[0]) == (640, 480, 32)
    assert await rfb.read(name_length) == b"web01"
    # SetEncodings: Raw only; then a FramebufferUpdateRequest of a corner, not incremental
    await ws.send_bytes(struct.pack(">BxHi", 2, 1, 0) + struct.pack(">BBHHHH", 3, 0, 0, 0, 16, 8))
    kind, rects = struct.unpack(">BxH", await rfb.read(4))
    x, y, w, h, encoding = struct.unpack(">HHHHi", await rfb.read(12))
    assert (kind, rects, x, y, w, h, encoding) == (0, 1, 0, 0, 16, 8, 0)
    assert len(await rfb.read(16 * 8 * 4)) == 16 * 8 * 4
    # with RRE offered, the whole screen comes as one background colour
    await ws.send_bytes(struct.pack(">BxHii", 2, 2, 2, 0) + struct.pack(">BBHHHH", 3, 0, 0, 0, 640, 480))
    assert struct.unpack(">BxHHHHHi", await rfb.read(16)) == (0, 1, 0, 0, 640, 480, 2)
    assert struct.unpack(">I", await rfb.read(4))[0] == 0  # no subrectangles
    assert len(await rfb.read(4)) == 4
    assert (await pve.task(answer["upid"]))["status"] == "running"
    await ws.send_bytes(b"\xfe")  # a message it does not know: the server ends the connection
    assert await closed(ws)
    task = await pve.task(answer["upid"])
    assert (task["status"], task["exitstatus"]) == ("stopped", "OK")


async def test_vnc_session_refuses_a_wrong_password(pve: Client) -> None:
    answer = await pve.data("POST", "/nodes/pve1/vncshell", websocket=1)
    ws = await pve.connect("/nodes/pve1/vncwebsocket", answer["port"], answer["ticket"])
    rfb = RFBClient(ws)
    wrong = bytes(b ^ 1 for b in answer["password"].encode())
    assert await rfb.authenticate(wrong) == b"\0\0\0\1"  # failed (RFC 6143 7.1.3), then the reason
    length = struct.unpack(">I", await rfb.read(4))[0]
    assert await rfb.read(length) == b"Authentication failed"
    assert await closed(ws)


async def test_vnc_session_of_a_stopped_vm_ends_at_once(pve: Client) -> None:
    answer = await pve.data("POST", "/nodes/pve2/qemu/101/vncproxy", websocket=1)
    ws = await pve.connect("/nodes/pve2/qemu/101/vncwebsocket", answer["port"], answer["ticket"])
    assert await closed(ws)  # 'qm vncproxy' fails for a VM not running (Qemu.pm:3121-3130)
    task = await pve.data("GET", f"/nodes/pve2/tasks/{answer['upid']}/status")
    assert (task["status"], task["exitstatus"]) == ("stopped", "Failed to run vncproxy.")


async def test_a_host_app_that_takes_the_routes_serves_the_consoles_websocket() -> None:
    gateway = mock_gateway()
    host = Starlette(routes=[Mount("/pve", routes=gateway.routes)], lifespan=gateway.lifespan)
    with live_server(host) as url:
        async with aiohttp.ClientSession(url) as session:
            _, ws = await terminal(await log_in(session, prefix="/pve"))
            await ws.close()


async def test_vnc_session_without_a_password_offers_no_security_type(pve: Client) -> None:
    # without websocket=1, vncterm wants TLS and the ticket instead of a password (LXC.pm:1025-1029,
    # 1059-1064), which the mock does not offer: the handshake fails with a reason (RFC 6143 7.1.2)
    answer = await pve.data("POST", "/nodes/pve1/lxc/200/vncproxy")
    assert "password" not in answer
    ws = await pve.connect("/nodes/pve1/lxc/200/vncwebsocket", answer["port"], answer["ticket"])
    rfb = RFBClient(ws)
    assert await rfb.read(12) == b"RFB 003.008\n"
    await ws.send_bytes(b"RFB 003.008\n")
    assert await rfb.read(1) == b"\0"
    length = struct.unpack(">I", await rfb.read(4))[0]
    assert b"websocket=1" in await rfb.read(length)
    assert await closed(ws)
