"""``/nodes/{node}/qemu/{vmid}/agent/*``: qemu-server src/PVE/API2/Qemu/Agent.pm over the simulated agent.

PVE checks the VM's config and state before every command (QemuServer/Agent.pm:109-113), then answers
``{"result": ...}`` for the plain commands; exec, exec-status and file-read return their own objects,
file-write nothing.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

from ....errors import PVEError
from ...base import Call
from ..runtime import Handler, Mock
from ..state import Guest
from . import _agent_guest as qga
from ._guest_common import QEMU, guest_of
from ._params import flag
from ._qemu_status import agent_enabled

MAX_READ_SIZE = 16 * 1024 * 1024  # Agent.pm:20
READ_CHUNK = 1024 * 1024  # Agent.pm:536: file-read asks the agent for 1 MiB at a time
# Agent.pm:25-118: the commands PVE registers with GET (the others are POST)
_GET = {"get-time", "info", "network-get-interfaces", "get-vcpus", "get-fsinfo", "get-memory-blocks",
        "get-memory-block-info", "get-host-name", "get-osinfo", "get-users", "get-timezone"}


def assert_available(mock: Mock, guest: Guest, command: str) -> None:
    """QemuServer/Agent.pm:109-113 assert_agent_available. An ``agent`` key that disables the agent passes
    the first check (it is defined), but no agent answers the ping; nor does one in a paused VM."""
    if "agent" not in guest.config:
        raise PVEError(500, "No QEMU guest agent configured\n")
    if guest.status == "stopped":
        raise PVEError(500, f"VM {guest.vmid} is not running\n")
    if not agent_enabled(guest) or guest.status != "running":
        raise PVEError(500, "QEMU guest agent is not running\n")
    qga.check_frozen(mock, guest, command)


def _agent_guest(mock: Mock, call: Call, command: str) -> Guest:
    guest = guest_of(mock, call, QEMU)  # Agent.pm:233: load_config, "does not exist" first
    assert_available(mock, guest, command)
    return guest


def _command(name: str) -> Handler:
    def handler(mock: Mock, call: Call) -> dict[str, Any]:
        return {"result": qga.COMMANDS[name](mock, _agent_guest(mock, call, name))}
    return handler


def legacy(mock: Mock, call: Call) -> dict[str, Any]:
    """Agent.pm:246: the old ``POST .../agent`` with the command as a parameter."""
    name = str(call.params["command"])
    return {"result": qga.COMMANDS[name](mock, _agent_guest(mock, call, name))}


def _argv(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]


def exec_command(mock: Mock, call: Call) -> dict[str, int]:
    """Agent.pm:355-365, QemuServer/Agent.pm:125-151 qemu_exec (``command`` is required by the schema, so
    its "command or input-data (or both) required" cannot happen through the API)."""
    guest = _agent_guest(mock, call, "exec")
    argv = _argv(call.params.get("command"))
    stdin = call.params.get("input-data")
    return {"pid": qga.start_process(mock, guest, argv, str(stdin or "").encode())}


def exec_status(mock: Mock, call: Call) -> dict[str, Any]:
    """QemuServer/Agent.pm:153-181: out-/err-data decoded from base64, JSON booleans as 1/0."""
    guest = _agent_guest(mock, call, "exec-status")
    answer = qga.process_status(mock, guest, int(call.params["pid"]))
    for key in ("out-data", "err-data"):
        if key in answer:
            answer[key] = answer[key].decode("utf-8", errors="replace")
    return {k: int(v) if isinstance(v, bool) else v for k, v in answer.items()}


def file_read(mock: Mock, call: Call) -> dict[str, Any]:
    """Agent.pm:512-571: read in 1 MiB chunks until ``count`` or the end; qemu-ga reports the end only
    when a read asked for more than was left (feof), so reading exactly to the end is ``truncated``."""
    params = call.params
    count = int(params.get("count") or MAX_READ_SIZE)
    offset = int(params.get("offset") or 0)
    guest = _agent_guest(mock, call, "file-open")
    data = qga.read_file(mock, guest, str(params["file"]))
    decode = flag(params.get("decode"), True)
    content, read, eof, position = "", 0, False, offset
    while read < count and not eof:
        chunk = min(count - read, READ_CHUNK)
        piece = data[position:position + chunk]
        position += len(piece)
        read += len(piece)
        eof = len(piece) < chunk
        content += piece.decode("utf-8", errors="replace") if decode else base64.b64encode(piece).decode()
    answer: dict[str, Any] = {"content": content, "bytes-read": read}
    if not eof:
        answer["truncated"] = 1
    return answer


def file_write(mock: Mock, call: Call) -> None:
    """Agent.pm:617-645: ``encode=0`` means the content is base64 already; qemu-ga decodes it."""
    params = call.params
    guest = _agent_guest(mock, call, "file-open")
    content = str(params["content"])
    if flag(params.get("encode"), True):
        data = content.encode()
    else:
        try:
            data = base64.b64decode(content, validate=True)
        except (binascii.Error, ValueError):
            # QEMU util/base64.c qbase64_decode
            raise qga.qga_error(guest, "file-write", "Base64 data is not valid") from None
    qga.agent_of(mock, guest).files[str(params["file"])] = data


def set_user_password(mock: Mock, call: Call) -> dict[str, Any]:
    """Agent.pm:293-309: qemu-ga answers an empty object."""
    _agent_guest(mock, call, "set-user-password")
    return {"result": {}}


def agent_routes(base: str) -> dict[tuple[str, str], Handler]:
    vm = base + "/{vmid}/agent"
    routes: dict[tuple[str, str], Callable[[Mock, Call], Any]] = {
        ("POST", vm): legacy,
        ("POST", vm + "/exec"): exec_command,
        ("GET", vm + "/exec-status"): exec_status,
        ("GET", vm + "/file-read"): file_read,
        ("POST", vm + "/file-write"): file_write,
        ("POST", vm + "/set-user-password"): set_user_password,
    }
    for name in qga.COMMANDS:
        routes[("GET" if name in _GET else "POST", f"{vm}/{name}")] = _command(name)
    return routes
